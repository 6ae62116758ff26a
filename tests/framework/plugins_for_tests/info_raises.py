"""Its ``plugbot_plugin_info`` raises: a load error naming the plugin, never a traceback."""
from __future__ import annotations

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    raise RuntimeError("info is not ready")


@hookimpl
def plugbot_register_handlers(register: object) -> None:
    pass
