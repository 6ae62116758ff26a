"""A handler whose network call fails with an error quoting its URL, as any HTTP client's does:
``/leak`` calls ``url`` (an unreachable address carrying the secrets in path and query), and the
``leaky.sync`` job does the same. Nothing of the URL's secrets may leave the process."""
from __future__ import annotations

from typing import Any

import requests

from framework import Context, PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="leaky", version="0.1.0")


@hookimpl
def plugbot_config_defaults() -> dict[str, Any]:
    return {"url": ""}


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("leak", leak)


@hookimpl
def plugbot_register_jobs(register: Any) -> None:
    register("sync", lambda ctx: requests.get(ctx.settings["url"], timeout=5), trigger="interval", hours=1)


def leak(ctx: Context) -> None:
    requests.get(ctx.settings["url"], timeout=5)
    ctx.reply("unreachable")
