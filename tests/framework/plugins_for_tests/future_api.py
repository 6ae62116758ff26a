"""Written for a plugbot API this version does not provide yet."""
from __future__ import annotations

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="future_api", version="3.0.0", api_version=">=3.0,<4.0")
