"""A 2.0 plugin whose startup hook still asks for ``app``, which the hook no longer passes."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="old_arguments", version="0.1.0")


@hookimpl
def plugbot_startup(app: Any) -> None:
    app.notify_admins("up")
