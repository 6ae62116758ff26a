"""Hook implementations behind a ``functools.wraps`` decorator, and a ``tryfirst`` one."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from framework import Plugin, PluginInfo, hookimpl

from . import record


def traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What a plugin author might wrap hooks in: timing, logging, a retry."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        record("traced", fn.__name__)
        return fn(*args, **kwargs)

    return wrapper


@hookimpl
@traced
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="wrapped", version="0.1.0")


@hookimpl
@traced
def plugbot_register_handlers(register: Any) -> None:
    register.command("wrapped", lambda ctx: ctx.reply(f"wrapped is {register.plugin.name}"))


@hookimpl(tryfirst=True)
@traced
def plugbot_startup(plugin: Plugin) -> None:
    record("startup", plugin.name)
