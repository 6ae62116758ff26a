"""The admin plugin: the operators' console in Telegram, on the public plugin API.

This module only wires hooks. Each command family lives in its own module with a
``register(register)`` function; a new family (statistics, broadcasts, backups) is one more
module added to :data:`FAMILIES`. Every command declares its permission, so the core checks it
on every call and a non-admin hears exactly what an unknown command gets; every button handler
checks it again, since a press reaches it without that check.
"""
from __future__ import annotations

import os
from typing import Any

from framework import Plugin, PluginInfo, hookimpl

from . import lists, menu, notices, settings, system, users

HERE = os.path.dirname(__file__)

FAMILIES = (menu, users, lists, settings, system)


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="admin", version="1.0.0",
                      description="Operators' console: users, roles, access lists, settings, plugins, jobs, audit",
                      api_version=">=2.0,<3.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {
        "page_size": 10,     # rows per page of /users and /audit
    }


@hookimpl
def plugbot_validate_config(settings: dict[str, Any]) -> list[str]:
    return [] if 1 <= int(settings["page_size"]) <= 30 else ["page_size: must be between 1 and 30"]


@hookimpl
def plugbot_register_locales(register: Any) -> None:
    register(os.path.join(HERE, "locales"))


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    for family in FAMILIES:
        family.register(register)


@hookimpl
def plugbot_plugin_status(name: str, status: str, error: str | None, plugin: Plugin) -> None:
    notices.plugin_status(plugin, name, status, error)
