"""Long polling: ask Telegram for updates, process them, then acknowledge.

Telegram forgets an update once ``getUpdates`` is called with an offset
above its id. The loop therefore waits until a batch is fully processed
(``app.join()``) before asking with the next offset: if the process dies
mid-batch, Telegram delivers the batch again and the pipeline's update_id
guard drops the ones that were already handled.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests
from telebot import apihelper

from ..sender import retry_after
from . import App

logger = logging.getLogger(__name__)

# Errors that cannot heal by waiting: a revoked token (401) or a wrong API URL (404).
FATAL_CODES = frozenset({401, 404})


def run_polling(app: App, *, timeout: int = 25, limit: int = 100, allowed_updates: list[str] | None = None,
                backoff_base: float = 1.0, backoff_max: float = 60.0) -> None:
    """Poll until ``app.stopping`` is set (noticed within ``timeout`` seconds).

    Network failures, 5xx and 409 answers are logged and retried after an
    exponential pause (``backoff_base`` doubling up to ``backoff_max``); a 429
    waits the ``retry_after`` Telegram asked for, as polling sooner only earns
    another 429. ``app.stopping`` interrupts either pause. A 401/404 answer is raised.
    """
    _drop_webhook(app)
    offset: int | None = None
    failures = 0
    while not app.stopping.is_set():
        try:
            updates = app.api.call("get_updates", offset=offset, limit=limit, timeout=timeout,
                                   long_polling_timeout=timeout, allowed_updates=allowed_updates)
        except (apihelper.ApiException, requests.exceptions.RequestException) as exc:
            if getattr(exc, "error_code", None) in FATAL_CODES:
                raise
            failures += 1
            delay = retry_after(exc)
            if delay is None:
                delay = min(backoff_max, backoff_base * 2 ** (failures - 1))
            logger.warning("getUpdates failed (%s); retrying in %.0fs", exc, delay)
            app.stopping.wait(delay)
            continue
        failures = 0
        if updates:
            offset = _process_batch(app, updates)


def _process_batch(app: App, updates: list[Any]) -> int:
    """Feed a batch, wait until it is processed, return the offset that acknowledges it."""
    raw = [_as_dict(update) for update in updates]
    for update in raw:
        app.feed(update)
    app.join()
    return max(update["update_id"] for update in raw) + 1


def _as_dict(update: Any) -> dict[str, Any]:
    if not isinstance(update, Mapping):
        raise TypeError(f"get_updates must return raw update dicts, got {type(update).__name__}")
    return dict(update)


def _drop_webhook(app: App) -> None:
    """getUpdates is refused (409) while a webhook is set, so remove it first (pending updates are kept)."""
    try:
        app.api.call("delete_webhook")
    except (apihelper.ApiException, requests.exceptions.RequestException) as exc:
        logger.warning("deleteWebhook failed (%s); polling anyway", exc)
