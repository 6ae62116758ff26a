"""Built-in plugin ``metrics``: feeds ``GET /metrics`` (see :mod:`framework.metrics`).

Written with the same hooks as any plugin: it observes every finished update through
``plugbot_update_done`` and, at startup, hooks the sender's Bot API calls and the scheduler's
runs from the outside, so the code it measures knows nothing of Prometheus.
"""
from __future__ import annotations

from typing import Any

from .. import metrics
from ..context import Context
from ..plugins import PluginInfo, hookimpl


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="metrics", version="1.0.0", description="Prometheus metrics for /metrics")


@hookimpl
def plugbot_startup(plugin: Any) -> None:
    # A built-in is part of the framework: it may reach the application behind its handle.
    metrics.instrumentation(plugin._app).attach()


@hookimpl
def plugbot_update_done(ctx: Context, error: BaseException | None) -> None:
    metrics.instrumentation(ctx.app).update_done(ctx, error)
