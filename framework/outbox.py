"""Replies that survive a crash: the transactional outbox.

What an update or a job queued to send (its :class:`~framework.context.Outgoing`
calls) is written as one ``outbox`` row in the same transaction as its effects,
sent through the sender once that transaction committed, and deleted once sent.
A process killed between the commit and the delivery leaves its rows behind;
whoever starts next on the database (or the ``maintenance.resend_outbox`` job
of a running process) sends them.

Guarantees: every reply of a committed update or job is delivered at least
once, and exactly once in the normal path. Deleting sent rows is batched (a
background flush every :data:`FLUSH_INTERVAL` seconds, and at stop) because a
commit per update would double what an update costs the database; so a
process killed right after sending may send its last fraction of a second of
replies again when it is recovered.

A row belongs to the process that wrote it (``instance``, ``{host}:{pid}`` as
in ``bot_processes``). It is taken over only when that process is gone: the
same host and its pid no longer runs, its heartbeat is stale or it recorded a
stop, or it never had a heartbeat and the row is older than the heartbeat's
staleness limit. Taking over is a compare-and-set on ``instance``, so two
processes recovering at once never both send a row.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from telebot import types

from . import statements
from .context import Outgoing
from .db import DB_CONNECTION_ERRORS, connection_scope, database, utcnow
from .heartbeat import STALE_AFTER
from .models import BotProcess, OutboxMessage
from .redaction import redact_call
from .redisconn import ThrottledLog

log = logging.getLogger("plugbot.outbox")

FLUSH_INTERVAL = 0.05
"""Seconds between two deletes of sent rows (one statement for every row sent meanwhile)."""

RECOVER_BATCH = 200
"""Rows taken over per query when recovering; a long backlog is worked through in batches."""


def this_instance() -> str:
    """``{host}:{pid}``: how this process names itself in ``outbox`` and ``bot_processes``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Outbox:
    """The outbox of one application: ``store`` in the transaction, ``send`` after the commit."""

    def __init__(self, deliver: Callable[[list[Outgoing]], None], clock: Callable[[], dt.datetime], *,
                 instance: str | None = None, flush_interval: float = FLUSH_INTERVAL) -> None:
        self._deliver = deliver  # the sender's deliver(): it sends in order and logs what fails for good
        self._clock = clock
        self.instance = instance or this_instance()
        self._flush_interval = flush_interval
        self._sent: list[int] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failure_log = ThrottledLog(log, interval=60.0)

    # -- the normal path ---------------------------------------------------------------------
    def store(self, items: list[Outgoing]) -> int | None:
        """Write ``items`` as one row in the caller's transaction; its id, or None when there is
        nothing to send or the calls cannot be written down (then they are sent from memory only)."""
        if not items:
            return None
        calls = encode_calls(items)
        if calls is None:
            return None
        return statements.insert(OutboxMessage, {"instance": self.instance, "created_at": self._clock(), "calls": calls})

    def send(self, row_id: int | None, items: list[Outgoing]) -> None:
        """Deliver ``items`` (after the commit) and mark their row sent."""
        self._deliver(items)
        if row_id is not None:
            self._mark_sent(row_id)

    def _mark_sent(self, row_id: int) -> None:
        with self._lock:
            self._sent.append(row_id)
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._flush_loop, name="plugbot-outbox", daemon=True)
                self._thread.start()

    def _flush_loop(self) -> None:
        while not self._stopping:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Delete the rows sent since the last flush (one statement); how many there were.

        While the database is unreachable (a restart, a failover) the ids are kept for the next
        flush: the rows are only at risk of being sent twice if this process dies meanwhile.
        """
        with self._lock:
            done, self._sent = self._sent, []
        if not done:
            return 0
        try:
            with connection_scope():
                OutboxMessage.delete().where(OutboxMessage.id.in_(done)).execute()
        except DB_CONNECTION_ERRORS as exc:
            with self._lock:
                self._sent = done + self._sent
            self._failure_log.warning("outbox: could not delete %d sent row(s) yet (%s: %s); will retry",
                                      len(done), exc.__class__.__name__, str(exc).strip()[:200])
            return 0
        return len(done)

    def stop(self) -> None:
        """Stop the background flush and delete what was sent (call before closing the database)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    # -- recovery ------------------------------------------------------------------------------
    def recover(self, *, at_start: bool = False) -> int:
        """Send the rows of processes that are gone; how many rows were sent.

        ``at_start``: this process has written nothing yet, so rows under its own name are a
        previous life's (a container restarted with the same host name and pid).
        """
        total = 0
        while True:
            with connection_scope():
                rows = self._take_over(self._abandoned_instances(at_start))
            for row in rows:
                self._deliver(decode_calls(row.calls))
                self._mark_sent(row.id)
            self.flush()  # before the next batch, which would otherwise find these rows again
            total += len(rows)
            if not rows:  # a peer recovering at once may have taken part of a batch: ask until none is left
                break
        if total:
            log.warning("outbox: sent the replies of %d update(s) or job(s) that a stopped process had "
                        "committed but not sent", total)
        return total

    def _abandoned_instances(self, at_start: bool) -> list[str]:
        now, beat_now = self._clock(), utcnow()  # rows carry the app's clock, heartbeats the real one
        owners = [name for (name,) in OutboxMessage.select(OutboxMessage.instance).distinct().tuples()]
        beats = {row.instance: row for row in BotProcess.select().where(BotProcess.instance.in_(owners))} \
            if owners and database.table_exists(BotProcess._meta.table_name) else {}
        host = socket.gethostname()
        gone = []
        for name in owners:
            if name == self.instance:
                if at_start:
                    gone.append(name)
                continue
            beat = beats.get(name)
            owner_host, _, pid = name.rpartition(":")
            if owner_host == host and pid.isdigit() and not _pid_alive(int(pid)):
                gone.append(name)
            elif beat is not None and (beat.stopped_at is not None
                                       or (beat_now - beat.heartbeat_at).total_seconds() > STALE_AFTER):
                gone.append(name)
            elif beat is None:
                oldest = _oldest(name)  # None: its rows were sent and deleted meanwhile
                if oldest is not None and oldest < now - dt.timedelta(seconds=STALE_AFTER):
                    gone.append(name)
        return gone

    def _take_over(self, owners: Iterable[str]) -> list[OutboxMessage]:
        taken: list[OutboxMessage] = []
        for owner in owners:
            rows = list(OutboxMessage.select().where(OutboxMessage.instance == owner)
                        .order_by(OutboxMessage.id).limit(RECOVER_BATCH - len(taken)))
            for row in rows:
                # A fresh created_at: the row's age now says how long *this* process has held it.
                claimed = (OutboxMessage.update(instance=self.instance, created_at=self._clock())
                           .where(OutboxMessage.id == row.id, OutboxMessage.instance == owner).execute())
                if claimed:
                    taken.append(row)
            if len(taken) >= RECOVER_BATCH:
                break
        return taken


def _oldest(instance: str) -> dt.datetime | None:
    return (OutboxMessage.select(OutboxMessage.created_at).where(OutboxMessage.instance == instance)
            .order_by(OutboxMessage.created_at).scalar())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


# -- writing calls down ------------------------------------------------------------------------------

def encode_calls(items: list[Outgoing]) -> str | None:
    """The calls as JSON: bytes as base64, Bot API objects (keyboards, prices) by type and fields.
    None when a parameter is of a kind that cannot be written down and read back."""
    try:
        # Written down as sent: without a secret an error text quotes (the sender redacts too).
        return json.dumps([{"method": item.method,
                            "params": {k: _encode(v) for k, v in redact_call(item.params).items() if v is not None}}
                           for item in items])
    except TypeError as exc:
        log.debug("outbox: calls not stored (%s); they are sent from memory only", exc)
        return None


def decode_calls(text: str) -> list[Outgoing]:
    return [Outgoing(call["method"], {k: _decode(v) for k, v in call["params"].items()}) for call in json.loads(text)]


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"$dict": {str(k): _encode(v) for k, v in value.items()}}
    name = type(value).__name__
    if getattr(types, name, None) is type(value) and hasattr(value, "to_dict"):
        return {"$type": name, "fields": value.to_dict()}
    raise TypeError(f"{name} cannot be stored in the outbox")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if "$dict" in value:
        return {k: _decode(v) for k, v in value["$dict"].items()}
    kind = getattr(types, value["$type"])
    # Types Telegram sends have de_json; those only bots send (LabeledPrice) take their fields.
    return kind.de_json(value["fields"]) if hasattr(kind, "de_json") else kind(**value["fields"])
