"""A running bot's heartbeat in the database, and how other processes read it.

``plugbot run`` keeps one ``bot_processes`` row fresh: every few seconds it
writes the time, when Telegram last answered ``getUpdates``, how many updates
are in hand, and the plugins' live states. The commands an operator runs in a
process of their own (``health``, ``plugins``, ``restore``, ``migrate --down``)
read that row to know whether a bot is running and whether it gets anywhere;
the database is the one place every process of a deployment can see.

A clean stop writes ``stopped_at``; a killed process simply stops beating, and
after :data:`STALE_AFTER` seconds it counts as gone.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from typing import Any

from .db import connection_scope, database, utcnow
from .models import BotProcess
from .redaction import redact
from .redisconn import ThrottledLog

log = logging.getLogger("plugbot.heartbeat")

BEAT_INTERVAL = 10.0
"""Seconds between two heartbeats."""

STALE_AFTER = 3 * BEAT_INTERVAL
"""A heartbeat older than this means the process is gone (killed, its host down)."""

KEEP_STOPPED = dt.timedelta(days=7)
"""Rows of processes that stopped (or vanished) longer ago than this are pruned at start."""


class BotRunning(RuntimeError):
    """A bot process is running on the database an operator command would change under it."""


class Heartbeat:
    """This process's row in ``bot_processes``, refreshed by a daemon thread.

    Use as a context manager around the transport: ``with Heartbeat(app, "polling") as beat:``.
    The polling loop reports Telegram's answers through :meth:`polled` and :meth:`poll_failed`.
    """

    def __init__(self, app: Any, mode: str, *, interval: float = BEAT_INTERVAL) -> None:
        self._app = app
        self.mode = mode
        self.interval = interval
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.instance = f"{self.host}:{self.pid}"
        self._started_at = utcnow()
        self._polled_at: dt.datetime | None = None
        self._poll_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warn = ThrottledLog(log, interval=300)

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._prune()
        self.beat()
        self._thread = threading.Thread(target=self._run, name="plugbot-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and record the stop, so other processes see it at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval)
        self.beat(stopped=True)

    def polled(self) -> None:
        """Telegram answered ``getUpdates``."""
        self._polled_at = utcnow()
        self._poll_error = None

    def poll_failed(self, reason: str) -> None:
        """``getUpdates`` failed; ``reason`` in words, shown by ``health`` while it lasts."""
        self._poll_error = redact(reason)[:500]

    def beat(self, *, stopped: bool = False) -> None:
        """Write the row (and the plugins' live states) now; a database outage is logged, not raised."""
        app = self._app
        try:
            for name in list(app.plugins.plugins):
                app.plugins.is_paused(name)  # a pause that ran out ends here, so the saved state is live
            app.save_plugin_states()
            now = utcnow()
            row = {BotProcess.instance: self.instance, BotProcess.host: self.host, BotProcess.pid: self.pid,
                   BotProcess.mode: self.mode, BotProcess.started_at: self._started_at,
                   BotProcess.heartbeat_at: now, BotProcess.polled_at: self._polled_at,
                   BotProcess.poll_error: self._poll_error, BotProcess.in_hand: app.queue.pending,
                   BotProcess.stopped_at: now if stopped else None}
            with connection_scope():
                (BotProcess.insert(row)
                 .on_conflict(conflict_target=[BotProcess.instance], update={k: v for k, v in row.items()
                                                                            if k is not BotProcess.instance})
                 .execute())
        except Exception as exc:  # noqa: BLE001 - the bot keeps serving; health reports the stale beat
            from .health import describe_error

            self._warn.warning("heartbeat not written: %s", describe_error(exc))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def _prune(self) -> None:
        try:
            with connection_scope():
                (BotProcess.delete()
                 .where(BotProcess.heartbeat_at < utcnow() - KEEP_STOPPED)
                 .execute())
        except Exception:  # noqa: BLE001 - pruning is housekeeping; beat() reports an outage
            log.debug("could not prune old bot_processes rows", exc_info=True)


# -- reading it from another process ----------------------------------------------------------------


def latest_process() -> BotProcess | None:
    """The process a command on this machine is about: the freshest row of this host, else the
    freshest of any host. None when no bot ever ran on this database (or it is not migrated)."""
    with connection_scope():
        if not database.table_exists(BotProcess._meta.table_name):
            return None
        newest = BotProcess.select().order_by(BotProcess.heartbeat_at.desc())
        return (newest.where(BotProcess.host == socket.gethostname()).first() or newest.first())


def running_processes() -> list[BotProcess]:
    """Every process with a fresh heartbeat and no recorded stop, on any host."""
    with connection_scope():
        if not database.table_exists(BotProcess._meta.table_name):
            return []
        since = utcnow() - dt.timedelta(seconds=STALE_AFTER)
        return list(BotProcess.select().where(BotProcess.stopped_at.is_null(), BotProcess.heartbeat_at >= since)
                    .order_by(BotProcess.heartbeat_at.desc()))


def is_running(row: BotProcess, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return row.stopped_at is None and (now - row.heartbeat_at).total_seconds() <= STALE_AFTER


def describe_process(row: BotProcess, now: dt.datetime | None = None) -> str:
    """``polling, pid 4242 on web-1, heartbeat 3 s ago`` (or how and when it stopped)."""
    now = now or utcnow()
    who = f"{row.mode}, pid {row.pid} on {row.host}"
    if row.stopped_at is not None:
        return f"{who}, stopped {format_age(now - row.stopped_at)} ago"
    return f"{who}, heartbeat {format_age(now - row.heartbeat_at)} ago"


def refuse_while_running(action: str) -> None:
    """Raise :class:`BotRunning` if a bot serves this database: ``action`` would change it underneath."""
    running = running_processes()
    if running:
        raise BotRunning(f"a bot process is running on this database ({describe_process(running[0])}): "
                         f"stop it before {action}")


def format_age(delta: dt.timedelta) -> str:
    """``3 s``, ``4 min``, ``2 h``, ``3 days``: how long ago, as an operator reads it."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
