"""A plugin with a command-line command: ``python -m framework clitool echo ...``."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, User, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="clitool", version="0.1.0", description="adds a command-line command")


def echo(plugin: Any, args: list[str]) -> int:
    print(f"{plugin.name}: {' '.join(args)}; users={User.select().count()}")
    return 3 if "fail" in args else 0


@hookimpl
def plugbot_register_cli(register: Any) -> None:
    register("echo", echo, help="print the arguments and count the users")
