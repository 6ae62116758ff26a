"""Written for plugbot API 1.x: its global before-update hook no longer exists."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="old_api", version="1.4.0", api_version=">=1.0,<2.0")


@hookimpl
def plugbot_before_update(ctx: Any) -> bool | None:
    return None
