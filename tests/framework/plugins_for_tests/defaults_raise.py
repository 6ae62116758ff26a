"""Its ``plugbot_config_defaults`` raises: a load error naming the plugin, never a traceback."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="defaults_raise", version="0.1.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    raise KeyError("colour")
