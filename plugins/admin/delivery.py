"""Delivering a confirmed broadcast: one thread per process, one recipient row at a time.

Every message is claimed in its own short transaction (its row ``pending`` → ``sending``) before
it leaves and marked after, so a process stopped at any moment never sends a message twice: a
row it left in ``sending`` may or may not have arrived, and the process that takes over counts it
as failed instead of sending it again. A broadcast is sent by one process at a time, the holder
of its lease (renewed while it sends), so several bot processes never add their rates together.
The message rate is ``broadcast_per_second``, below Telegram's 30 a second, leaving room for the
replies the process sends meanwhile through the same paced sender.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import peewee

from framework import Plugin, SendError, User, connection_scope, database

from .broadcast_models import (
    ACTIVE,
    BLOCKED,
    CANCELLED,
    DONE,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    BotBlocked,
    Broadcast,
    BroadcastRecipient,
)

log = logging.getLogger("plugbot.admin.broadcast")

LEASE = dt.timedelta(seconds=60)
BATCH = 20                     # rows read at once; a cancel and the lease are checked per batch (~1 s)
PROGRESS_SECONDS = 2.0         # at most one progress edit this often...
POLL_SECONDS = 1.0             # how often an idle process looks for a confirmed broadcast


def counts(broadcast_id: int) -> dict[str, int]:
    """Recipients of a broadcast by status."""
    rows = (BroadcastRecipient.select(BroadcastRecipient.status, peewee.fn.COUNT(BroadcastRecipient.id).alias("n"))
            .where(BroadcastRecipient.broadcast == broadcast_id)
            .group_by(BroadcastRecipient.status).tuples())
    return {status: n for status, n in rows}


def report_text(t: Callable[..., str], broadcast: Broadcast, by_status: dict[str, int]) -> str:
    """The progress line while sending, the final report once done or cancelled (``t`` translates)."""
    done = sum(by_status.get(s, 0) for s in (SENT, BLOCKED, FAILED))
    # A claimed row of a finished broadcast was interrupted mid-send: it counts as failed.
    failed = by_status.get(FAILED, 0) + (by_status.get(SENDING, 0) if broadcast.status != ACTIVE else 0)
    numbers = {"id": broadcast.id, "sent": by_status.get(SENT, 0), "blocked": by_status.get(BLOCKED, 0),
               "failed": failed, "pending": by_status.get(PENDING, 0), "done": done, "total": broadcast.total}
    key = {DONE: "broadcast.report", CANCELLED: "broadcast.report_cancelled"}.get(broadcast.status,
                                                                                "broadcast.progress")
    return t(key, **{k: f"{v:,}" for k, v in numbers.items()})


class Delivery:
    """The process's broadcast sender, started and stopped with the plugin."""

    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin
        self.worker = f"{uuid.uuid4().hex[:16]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{self.plugin.name}-broadcast", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                with connection_scope():
                    busy = self._step()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the sender for good
                log.exception("broadcast delivery failed; trying again shortly")
            if not busy:
                self._stop.wait(POLL_SECONDS)

    def _step(self) -> bool:
        broadcast = self._take_lease()
        if broadcast is None:
            return False
        try:
            self._deliver(broadcast)
        finally:
            if self._stop.is_set():  # hand the broadcast back at once, so the next process resumes it
                (Broadcast.update(worker=None, lease_until=None)
                 .where((Broadcast.id == broadcast.id) & (Broadcast.worker == self.worker)).execute())
        return True

    def _take_lease(self) -> Broadcast | None:
        now = self.plugin.now()
        candidate = (Broadcast.select().where(Broadcast.status == ACTIVE).order_by(Broadcast.id).first())
        if candidate is None:
            return None
        free = (Broadcast.worker.is_null() | (Broadcast.worker == self.worker) | (Broadcast.lease_until < now))
        taken = (Broadcast.update(worker=self.worker, lease_until=now + LEASE)
                 .where((Broadcast.id == candidate.id) & (Broadcast.status == ACTIVE) & free).execute())
        if not taken:
            return None  # another process is sending it
        # Whatever the previous holder had claimed and not marked may have arrived: never again.
        (BroadcastRecipient.update(status=FAILED, error="interrupted")
         .where((BroadcastRecipient.broadcast == candidate.id) & (BroadcastRecipient.status == SENDING)).execute())
        return Broadcast.get_by_id(candidate.id)

    def _deliver(self, broadcast: Broadcast) -> None:
        interval = 1.0 / max(float(self.plugin.settings["broadcast_per_second"]), 0.001)
        last_edit, since_edit = time.monotonic(), 0
        edit_every = max(50, broadcast.total // 10)
        while not self._stop.is_set():
            current = Broadcast.get_or_none(Broadcast.id == broadcast.id)
            if current is None:
                return
            if current.status != ACTIVE or current.worker != self.worker:
                if current.status == CANCELLED:
                    self._edit(current)
                return  # cancelled, or the lease went to another process
            (Broadcast.update(lease_until=self.plugin.now() + LEASE)
             .where((Broadcast.id == broadcast.id) & (Broadcast.worker == self.worker)).execute())
            batch = list(BroadcastRecipient.select()
                         .where((BroadcastRecipient.broadcast == broadcast.id)
                                & (BroadcastRecipient.status == PENDING))
                         .order_by(BroadcastRecipient.id).limit(BATCH))
            if not batch:
                self._finish(current)
                return
            for row in batch:
                if self._stop.is_set():
                    return
                started = time.monotonic()
                pause = self._send(current, row)
                if pause:
                    self._pause(current, pause)
                    break  # re-read the batch: the paused row is pending again
                since_edit += 1
                if since_edit >= edit_every or time.monotonic() - last_edit >= PROGRESS_SECONDS:
                    self._edit(current)
                    last_edit, since_edit = time.monotonic(), 0
                self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def _send(self, broadcast: Broadcast, row: BroadcastRecipient) -> float:
        """Send to one recipient; the seconds to pause everything when Telegram said 429, else 0."""
        with database.atomic():
            claimed = (BroadcastRecipient.update(status=SENDING)
                       .where((BroadcastRecipient.id == row.id) & (BroadcastRecipient.status == PENDING)).execute())
        if not claimed:
            return 0.0
        status, error = SENT, None
        try:
            self.plugin.send_now("send_message", chat_id=row.telegram_id, text=broadcast.text)
        except SendError as exc:
            if exc.retry_after is not None:
                BroadcastRecipient.update(status=PENDING).where(BroadcastRecipient.id == row.id).execute()
                return max(exc.retry_after, 0.1)
            status = BLOCKED if exc.error_code == 403 else FAILED
            error = str(exc.description)[:200]
        now = self.plugin.now()
        with database.atomic():
            (BroadcastRecipient.update(status=status, error=error, sent_at=now)
             .where(BroadcastRecipient.id == row.id).execute())
            if status == BLOCKED:
                (BotBlocked.insert(user=row.user_id, blocked_at=now)
                 .on_conflict(conflict_target=[BotBlocked.user], update={BotBlocked.blocked_at: now}).execute())
                self.plugin.users.mark_blocked(row.telegram_id)  # users.status: every job skips them too
        return 0.0

    def _pause(self, broadcast: Broadcast, seconds: float) -> None:
        log.warning("broadcast %s: Telegram asked to wait %.0f s; every message waits", broadcast.id, seconds)
        # The lease covers the pause, so no other process takes the broadcast over and ignores it.
        (Broadcast.update(pauses=Broadcast.pauses + 1,
                          lease_until=self.plugin.now() + LEASE + dt.timedelta(seconds=seconds))
         .where((Broadcast.id == broadcast.id) & (Broadcast.worker == self.worker)).execute())
        self._stop.wait(seconds)

    def _finish(self, broadcast: Broadcast) -> None:
        now = self.plugin.now()
        finished = (Broadcast.update(status=DONE, finished_at=now, worker=None, lease_until=None)
                    .where((Broadcast.id == broadcast.id) & (Broadcast.status == ACTIVE)).execute())
        final = Broadcast.get_by_id(broadcast.id)
        if finished or final.status == CANCELLED:
            self._edit(final)

    def _edit(self, broadcast: Broadcast) -> None:
        """Show progress (or the final report) in the message the author confirmed on."""
        if broadcast.chat_id is None or broadcast.message_id is None:
            return
        text = report_text(lambda key, **params: self.plugin.t(key, lang=broadcast.lang, **params), broadcast,
                           counts(broadcast.id))
        try:
            self.plugin.send_now("edit_message_text", chat_id=broadcast.chat_id, message_id=broadcast.message_id,
                                 text=text)
        except SendError as exc:  # progress is a courtesy; the rows are the record
            log.info("broadcast %s: progress not shown: %s", broadcast.id, exc)


def recipients_query() -> Any:
    """Who gets a broadcast: every active user, except those who muted notifications and those who
    blocked the bot and have not written since (so cannot have unblocked it)."""
    query = User.select(User.id, User.telegram_id).where(User.status == "active")
    # The one place the mute filter lives: users.notifications_enabled arrives with a core
    # migration; until then nobody has muted.
    muted_column = getattr(User, "notifications_enabled", None)
    if muted_column is not None:
        query = query.where(muted_column == True)  # noqa: E712 - SQL comparison
    still_blocked = BotBlocked.select(BotBlocked.id).where(
        (BotBlocked.user == User.id) & (BotBlocked.blocked_at >= User.last_active))
    return query.where(~peewee.fn.EXISTS(still_blocked))
