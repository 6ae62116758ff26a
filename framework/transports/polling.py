"""Long polling: ask Telegram for updates, store them, acknowledge, ask again.

Telegram forgets an update once ``getUpdates`` is called with an offset above its id. The
loop therefore first stores each batch durably (``app.feed_many``: the ``incoming_updates``
table, framework.update_queue) and only then asks with the next offset. It does not wait for
the batch to be processed: the queue's workers, in this process or others, take the stored
updates one chat at a time, so a slow chat in a batch holds up neither the other chats nor
the next poll. A process killed after storing loses nothing (the rows are processed by the
next start, or by another process), and one killed before storing gets the batch again.

Backpressure: while more than ``queue.max_backlog`` updates wait in the table (the workers
fall behind), the loop pauses before polling again; Telegram keeps the rest meanwhile.

The long poll itself runs on a thread of its own (:class:`_Poller`), so a stop does not wait
for it: a bot told to stop leaves at once. A poll abandoned in flight loses nothing, since its
updates were not confirmed and come again to the next process.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import requests
from telebot import apihelper

from ..db import DB_CONNECTION_ERRORS
from ..sender import retry_after
from . import App

logger = logging.getLogger(__name__)

# Errors that cannot heal by waiting: a revoked token (401) or a wrong API URL (404).
FATAL_CODES = frozenset({401, 404})

STOP_CHECK = 0.1  # seconds between two looks at app.stopping while a long poll is out
BACKLOG_CHECK = 1.0  # seconds between two looks at the backlog while it is over queue.max_backlog


class Progress(Protocol):
    """Where the loop reports Telegram's answers (the process heartbeat, read by ``health``)."""

    def polled(self) -> None: ...

    def poll_failed(self, reason: str) -> None: ...


def run_polling(app: App, *, timeout: int = 25, limit: int = 100, allowed_updates: list[str] | None = None,
                backoff_base: float = 1.0, backoff_max: float = 60.0, progress: Progress | None = None) -> None:
    """Poll until ``app.stopping`` is set (the long poll in flight is abandoned).

    Network failures, 5xx and 409 answers are logged and retried after an
    exponential pause (``backoff_base`` doubling up to ``backoff_max``); a 429
    waits the ``retry_after`` Telegram asked for, as polling sooner only earns
    another 429. ``app.stopping`` interrupts either pause. A 401/404 answer is raised.
    """
    _drop_webhook(app)
    if allowed_updates is None and hasattr(app, "allowed_updates"):
        allowed_updates = app.allowed_updates()
    offset: int | None = None
    failures = 0
    poller = _Poller(app.api)
    try:
        while not app.stopping.is_set():
            try:
                updates = poller.get_updates(app.stopping, offset=offset, limit=limit, timeout=timeout,
                                             long_polling_timeout=timeout, allowed_updates=allowed_updates)
            except (apihelper.ApiException, requests.exceptions.RequestException) as exc:
                if getattr(exc, "error_code", None) in FATAL_CODES:
                    raise
                failures += 1
                delay = retry_after(exc)
                if delay is None:
                    delay = min(backoff_max, backoff_base * 2 ** (failures - 1))
                logger.warning("getUpdates failed (%s); retrying in %.0fs", exc, delay)
                if progress is not None:
                    progress.poll_failed(_reason(exc))
                app.stopping.wait(delay)
                continue
            if updates is None:
                break  # stopping: the long poll in flight is left behind, unconfirmed
            failures = 0
            if progress is not None:
                progress.polled()
            if updates:
                try:
                    offset = _store_batch(app, updates)
                except DB_CONNECTION_ERRORS as exc:
                    failures += 1
                    delay = min(backoff_max, backoff_base * 2 ** (failures - 1))
                    logger.warning("could not store %d updates (%s); asking again in %.0fs", len(updates),
                                   exc.__class__.__name__, delay)
                    app.stopping.wait(delay)
                    continue
                _wait_for_backlog(app)
    finally:
        poller.close()


class _Poller:
    """Runs ``getUpdates`` on one daemon thread (one thread keeps one HTTP connection alive
    between polls), so the loop can stop without waiting for the long poll to return."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self._requests: queue.SimpleQueue[tuple[dict[str, Any], _Answer] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="plugbot-poller", daemon=True)
        self._thread.start()

    def get_updates(self, stopping: threading.Event, **params: Any) -> list[Any] | None:
        """Telegram's answer, or None if ``stopping`` was set before it came."""
        answer = _Answer()
        self._requests.put((params, answer))
        while not answer.done.wait(STOP_CHECK):
            if stopping.is_set():
                return None
        if answer.error is not None:
            raise answer.error
        return answer.result

    def close(self) -> None:
        """Let the thread end after the call it is in, if any."""
        self._requests.put(None)

    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                return
            params, answer = request
            try:
                answer.result = self._api.call("get_updates", **params)
            except BaseException as exc:  # noqa: BLE001 - handed to the loop, which decides
                answer.error = exc
            answer.done.set()


class _Answer:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


def _reason(exc: BaseException) -> str:
    from ..health import describe_error

    code = getattr(exc, "error_code", None)
    if code is None:
        return describe_error(exc)
    description = getattr(exc, "description", None)
    return f"HTTP {code}" + (f": {description}" if description else "")


def _store_batch(app: App, updates: list[Any]) -> int:
    """Store a batch durably and return the offset that acknowledges it (not waiting for it to
    be processed: the queue's workers do that)."""
    raw = [_as_dict(update) for update in updates]
    app.feed_many(raw)
    return max(update["update_id"] for update in raw) + 1


def _wait_for_backlog(app: App) -> None:
    """Pause polling while the workers are more than ``queue.max_backlog`` updates behind."""
    limit = app.config.get("queue", {}).get("max_backlog")
    if not limit:
        return
    warned = False
    while not app.stopping.is_set():
        backlog = app.backlog()
        if backlog <= limit:
            return
        if not warned:
            logger.warning("%d updates wait to be processed (queue.max_backlog %d): polling paused", backlog, limit)
            warned = True
        app.stopping.wait(BACKLOG_CHECK)


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
