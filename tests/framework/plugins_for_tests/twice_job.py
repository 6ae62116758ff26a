"""Registers one job name twice: the second would silently replace the first."""
from __future__ import annotations

from typing import Any

from framework import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="twice_job", version="0.1.0")


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("tick", tick, trigger="interval", minutes=5)
    register("tick", tick, trigger="interval", minutes=10)


def tick(job: Any) -> None:
    pass
