"""Claims the button prefix ``pick``, which the ``typed`` test plugin already registered."""
from __future__ import annotations

from typing import Any

from framework import CallbackData, PluginInfo, hookimpl


class Mine(CallbackData, prefix="pick"):
    n: int


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="prefix_thief", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.callback(Mine, lambda ctx, data: ctx.answer("mine"))
