"""The durable update queue: updates are stored before Telegram is told they arrived, and
worker threads of any process take them so that one chat is processed by one worker at a
time, in update_id order, while different chats run in parallel.

Why a table (``incoming_updates``, core migration 0007) in the bot's own database and not a
broker: exactly-once needs the "done" mark to commit in the same transaction as the update's
effects. Here the pipeline deletes the row inside that transaction (and ``processed_updates``
keeps guarding against a redelivery that arrives after the delete); Redis Streams or any
broker cannot join a PostgreSQL or SQLite transaction. docs/deployment.md has the longer story.

The flow:

* :meth:`UpdateQueue.store` writes a batch in one short transaction (``ON CONFLICT DO
  NOTHING`` on update_id: a redelivered update is ignored) and wakes the workers; only then
  does the transport acknowledge (advance the getUpdates offset, answer the webhook 200).
* A worker finds chats with pending updates (oldest first), becomes the chat's owner, takes
  the chat's oldest row (counting the attempt), runs it through the pipeline, and goes on
  with the chat for at most :data:`TURN` updates before giving other chats their turn.
* Ownership. PostgreSQL: a session-level advisory lock ``(NAMESPACE, chat hashed to int4)``
  held on a connection of the worker's own (never a pooled connection, which would carry
  the lock to another thread); a dead process's connection closes and its locks vanish, so
  the others take its chats at once. Every process also keeps an in-process set of the chats
  its threads own, which spares the round trip for a chat a sibling thread is on. SQLite runs
  in one process (``processes > 1`` is refused), so the in-process set is all there is.
* Wakeups. In the process: a condition variable. Across processes (PostgreSQL): the storing
  transaction sends ``NOTIFY``, each process LISTENs on a connection of its own; a slow
  fallback poll covers a lost notification.
* A row taken :attr:`UpdateQueue.max_attempts` times without being finished (a process that
  dies on it, a database that keeps failing) is dropped: logged, deleted and marked processed,
  and its chat goes on.
* Pre-checkout queries (Telegram cancels the payment after 10 s) are stored with ``fast`` set
  and run at once by the receiving process's fast workers, never behind a busy chat. The
  chat workers take a fast row only once it is :data:`FAST_GRACE` old (its receiver died).
* At start, rows left by an earlier run are processed like any other (recovery).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import select
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import peewee

from . import statements
from .db import DB_CONNECTION_ERRORS, connection_scope, database, is_postgres, utcnow
from .dispatch import ChatDispatcher
from .models import IncomingUpdate, ProcessedUpdate
from .origin import malformed, origin

log = logging.getLogger("plugbot.queue")

NAMESPACE = 0x706C7562
"""First key of the chat advisory locks ('plub'), so they never meet another user's advisory locks."""
CHANNEL = "plugbot_incoming"
"""The LISTEN/NOTIFY channel a storing transaction wakes the other processes on."""
TURN = 4
"""Updates of one chat a worker processes before letting the next chat have its turn (fairness)."""
SCAN_LIMIT = 64
"""Chats looked at per scan for pending updates, oldest head first."""
FALLBACK_POLL = 1.0
"""Seconds an idle worker waits before looking again without being woken (a lost NOTIFY, a chat
another process let go)."""
FAST_GRACE = dt.timedelta(seconds=10)
"""A fast row this old was left by a receiver that died: the chat workers take it."""
FAST_WORKERS = 2
"""Threads of the receiving process that run pre-checkout queries."""
NO_CHAT = 2 ** 62
"""Updates with neither chat nor sender are keyed NO_CHAT + update_id: each on its own, in parallel."""
PRUNE_AT, PRUNE_EVERY = 1000, 5.0
"""Ids stored here and not seen finished above which ``store`` looks for those other processes
finished, at most every PRUNE_EVERY seconds."""
ERROR_PAUSE = 1.0
"""Seconds a worker waits after the database refused the queue's own statements."""


def chat_key(update: dict[str, Any]) -> int:
    """The chat an update is ordered in: its chat, else its sender's private chat, else its own key."""
    chat_id = origin(update).chat_id
    if isinstance(chat_id, int):
        return chat_id
    return NO_CHAT + int(update["update_id"])


def lock_key(key: int) -> int:
    """``key`` folded into a signed int4, the second key of the chat's advisory lock (two chats
    folding onto one key only take turns; nothing is wrong)."""
    folded = (key ^ (key >> 32)) & 0xFFFFFFFF
    return folded - 2 ** 32 if folded >= 2 ** 31 else folded


def is_fast(update: dict[str, Any]) -> bool:
    return isinstance(update.get("pre_checkout_query"), dict)


class UpdateQueue:
    """The queue of one application: ``store`` on the receiving side, worker threads on the other.

    ``process(raw, queued=True)`` is the pipeline's entry: it deletes the row in the update's
    transaction and returns False only when the update must be tried again (the database failed
    through all its retries).
    """

    def __init__(self, process: Callable[..., bool], db: peewee.Database, *, workers: int,
                 max_attempts: int = 5, max_backlog: int = 10_000,
                 stopping: threading.Event | None = None) -> None:
        self._process = process
        # The application's stop signal (SIGTERM): no update is taken after it, the one in hand is finished.
        self._app_stopping = stopping or threading.Event()
        self._db = db
        self.workers = workers  # 0: this process only stores (the receiver of `run --processes N`)
        self.max_attempts = max_attempts
        self.max_backlog = max_backlog
        self._cond = threading.Condition()
        self._generation = 0  # bumped by every wakeup, so a worker never sleeps through one
        self._waiting: set[int] = set()  # ids stored by this process and not seen finished (join)
        self._busy: set[int] = set()  # ids a thread of this process is running now
        self._owned: set[int] = set()  # chats a thread of this process owns now
        self._candidates: deque[int] = deque()
        self._dirty = True  # something was stored since the last scan
        self._scan_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._fast: ChatDispatcher | None = None
        self._running = False
        self._lifecycle = threading.Lock()
        self._pruned_at = 0.0
        self._token = uuid.uuid4().hex  # names this process in its NOTIFY payloads

    # -- receiving -------------------------------------------------------------------------
    def store(self, updates: Iterable[Any]) -> None:
        """Write ``updates`` durably in one transaction, then wake the workers; raises when the
        database refuses (the transport then must not acknowledge). Malformed updates (no
        integer update_id, forged ids) are logged and left out, as the pipeline would."""
        rows: dict[int, dict[str, Any]] = {}
        now = utcnow()
        for raw in updates:
            problem = malformed(raw)
            if problem is not None:
                log.warning("malformed update ignored: %s", problem)
                continue
            # ASCII-escaped JSON: a NUL or a lone surrogate (the pipeline replaces them) still stores.
            rows.setdefault(raw["update_id"], {"update_id": raw["update_id"], "chat_key": chat_key(raw),
                                               "payload": json.dumps(raw), "received_at": now,
                                               "attempts": 0, "fast": is_fast(raw)})
        if not rows:
            return
        with connection_scope(), database.atomic():
            values = list(rows.values())
            for start in range(0, len(values), 500):
                statements.insert_many(IncomingUpdate, values[start:start + 500], ignore_conflict=True)
            if is_postgres(self._db):
                # Delivered at commit; the payload names this process, whose own workers are woken below.
                database.execute_sql("SELECT pg_notify(%s, %s)", (CHANNEL, self._token))
        self._ensure_running()
        with self._cond:
            # A receiver without workers waits for nobody but its fast path: others process the rest.
            self._waiting.update(row["update_id"] for row in values if self.workers or row["fast"])
            self._wake_locked()
        self._prune()
        fast = self._fast
        for row in values:
            if row["fast"] and fast is not None:
                fast.submit(row["update_id"], row["update_id"])

    def backlog(self) -> int:
        """Rows waiting in the table, from every process (for the receiver's backpressure)."""
        with connection_scope():
            return IncomingUpdate.select().count()

    def oldest(self) -> tuple[int, dt.datetime | None]:
        """(rows waiting, arrival of the oldest) over every process: the /metrics queue gauges."""
        with connection_scope():
            row = IncomingUpdate.select(peewee.fn.COUNT(IncomingUpdate.update_id),
                                        peewee.fn.MIN(IncomingUpdate.received_at)).tuples().get()
        count, oldest = row
        if isinstance(oldest, str):  # SQLite hands an aggregate back as text
            oldest = dt.datetime.fromisoformat(oldest)
        return int(count or 0), oldest

    @property
    def pending(self) -> int:
        """Updates in this process's hands: stored here and not finished, or being run here."""
        with self._cond:
            return len(self._waiting | self._busy)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every update stored by this process so far is finished (by any process);
        False if ``timeout`` expired first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = set(self._waiting)
        checked = time.monotonic()
        while True:
            with self._cond:
                target &= self._waiting
                if not target:
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.2 if left is None else min(0.2, left))
            if time.monotonic() - checked >= 0.2:
                checked = time.monotonic()
                self._forget_finished_elsewhere(target)

    def _forget_finished_elsewhere(self, ids: set[int]) -> None:
        """Rows another process finished are gone from the table and were never busy here.
        The table is read first: a thread of ours that deleted a row marked it busy before."""
        ordered = sorted(ids)
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start:start + 1000]
            try:
                with connection_scope():
                    present = {row.update_id for row in IncomingUpdate.select(IncomingUpdate.update_id)
                               .where(IncomingUpdate.update_id.in_(chunk))}
            except DB_CONNECTION_ERRORS:
                return
            with self._cond:
                gone = set(chunk) - present - self._busy
                if gone:
                    self._waiting -= gone
                    self._cond.notify_all()

    def _prune(self) -> None:
        """Other processes' workers finish what this one stored without telling it: forget those now
        and then, so the ids it waits for stay few (and ``pending`` stays true)."""
        now = time.monotonic()
        with self._cond:
            if len(self._waiting) < PRUNE_AT or now - self._pruned_at < PRUNE_EVERY:
                return
            self._pruned_at = now
            ids = set(self._waiting)
        self._forget_finished_elsewhere(ids)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the fast workers and (``workers`` > 0) the chat workers; idempotent."""
        with self._lifecycle:
            if self._running:
                return
            self._stop.clear()
            self._dirty = True
            self._fast = ChatDispatcher(self._run_fast, workers=FAST_WORKERS, name="plugbot-fast")
            self._threads = [threading.Thread(target=self._work, name=f"plugbot-worker-{n}", daemon=True)
                             for n in range(self.workers)]
            if self.workers and is_postgres(self._db):
                self._threads.append(threading.Thread(target=self._listen, name="plugbot-listen", daemon=True))
            for thread in self._threads:
                thread.start()
            self._running = True

    def recover(self) -> int:
        """At start: rows an earlier run left are pending; start the workers if there are any."""
        left = self.backlog()
        if left:
            log.info("%d stored update(s) from an earlier run are pending: processing them", left)
            self.start()
        return left

    def _ensure_running(self) -> None:
        if not self._running:
            self.start()

    def stop(self) -> None:
        """Let each worker finish the update in hand, then end the threads. What is still stored
        stays stored: the next start (or another process) takes it."""
        with self._lifecycle:
            if not self._running:
                return
            self._stop.set()
            with self._cond:
                self._wake_locked()
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()
            if self._fast is not None:
                self._fast.stop()
            self._threads, self._fast, self._running = [], None, False
            with self._cond:
                self._candidates.clear()
                self._waiting -= set(self._waiting)  # join() must not wait for workers that are gone
                self._cond.notify_all()

    # -- workers -------------------------------------------------------------------------------
    def _halted(self) -> bool:
        return self._stop.is_set() or self._app_stopping.is_set()

    def _wake_locked(self) -> None:
        self._generation += 1
        self._dirty = True
        self._cond.notify_all()

    def _work(self) -> None:
        owner = _Ownership(self._db, self._owned, self._cond)
        try:
            while not self._halted():
                with self._cond:
                    generation = self._generation
                try:
                    worked = self._turn(owner)
                except Exception as exc:  # noqa: BLE001 - a worker survives the database going away
                    log.warning("update queue: %s: %s", exc.__class__.__name__, str(exc).strip()[:200])
                    owner.reset()
                    self._stop.wait(ERROR_PAUSE)
                    continue
                if not worked:
                    with self._cond:
                        self._cond.wait_for(lambda g=generation: self._generation != g or self._halted(),
                                            FALLBACK_POLL)
                        if self._generation == generation:
                            self._dirty = True  # the fallback poll: look at the table again
        finally:
            owner.close()

    def _turn(self, owner: _Ownership) -> bool:
        """Own one chat with pending updates and run a turn of it; False when there was none to own."""
        for _ in range(SCAN_LIMIT):
            if self._halted():
                return True
            key = self._next_candidate()
            if key is None:
                return False
            if not owner.acquire(key):
                continue  # a sibling thread or another process is on it
            try:
                more = self._run_chat(key)
            finally:
                owner.release(key)
            if more:
                with self._cond:
                    self._candidates.append(key)  # back in line, behind the chats waiting now
                    self._generation += 1
                    self._cond.notify_all()
            return True
        return False

    def _next_candidate(self) -> int | None:
        """The next chat to try: the next in line, or the first of a fresh scan of the table when
        something was stored since the last one (or nobody is in line)."""
        with self._cond:
            if self._candidates and not self._dirty:
                return self._candidates.popleft()
        with self._scan_lock:
            with self._cond:
                if not self._dirty:  # a sibling scanned while this thread waited: share its result
                    return self._candidates.popleft() if self._candidates else None
                self._dirty = False
            chats = self._scan()
            with self._cond:
                self._candidates = deque(chats)
                return self._candidates.popleft() if self._candidates else None

    def _scan(self) -> list[int]:
        """Chats with a pending update, oldest first (fast rows only once their receiver is late)."""
        threshold = utcnow() - FAST_GRACE
        head = peewee.fn.MIN(IncomingUpdate.update_id)
        with connection_scope():
            query = (IncomingUpdate.select(IncomingUpdate.chat_key, head.alias("head"))
                     .where((IncomingUpdate.fast == False) | (IncomingUpdate.received_at < threshold))  # noqa: E712
                     .group_by(IncomingUpdate.chat_key).order_by(head).limit(SCAN_LIMIT).tuples())
            return [row[0] for row in query]

    def _run_chat(self, key: int) -> bool:
        """Run up to :data:`TURN` of the chat's updates, oldest first; True if it has more."""
        for _ in range(TURN):
            if self._halted():
                return True
            taken = self._take(key)
            if taken is None:
                return False
            if not self._run(*taken):
                return False  # the database keeps failing: the row stays, taken again later
        return True

    def _take(self, key: int | None = None, update_id: int | None = None) -> tuple[int, str, int] | None:
        """Count an attempt on the chat's oldest pending row (or on row ``update_id``) and return
        (update_id, payload, attempts), or None when there is none."""
        threshold = utcnow() - FAST_GRACE
        if is_postgres(self._db):
            # One round trip: the chat is ours (its advisory lock), so nobody moves its head meanwhile.
            head = ("SELECT update_id FROM incoming_updates WHERE update_id = %s" if update_id is not None else
                    "SELECT update_id FROM incoming_updates WHERE chat_key = %s AND (NOT fast OR received_at < %s) "
                    "ORDER BY update_id LIMIT 1")
            params = (update_id,) if update_id is not None else (key, threshold)
            with connection_scope():
                row = database.execute_sql(
                    f"UPDATE incoming_updates SET attempts = attempts + 1 WHERE update_id = ({head}) "
                    "RETURNING update_id, payload, attempts", params).fetchone()
            return None if row is None else (row[0], row[1], row[2])
        # Texts built once (framework.statements): a take per update was the queue's dearest Python.
        with connection_scope(), database.atomic():
            if update_id is not None:
                cursor = statements.execute(
                    "SELECT update_id, payload, attempts FROM incoming_updates WHERE update_id = %s", (update_id,))
            else:
                cursor = statements.execute(
                    "SELECT update_id, payload, attempts FROM incoming_updates WHERE chat_key = %s "
                    "AND (NOT fast OR received_at < %s) ORDER BY update_id LIMIT 1",
                    (key, IncomingUpdate.received_at.db_value(threshold)))
            row = cursor.fetchone()
            if row is None:
                return None
            statements.execute("UPDATE incoming_updates SET attempts = attempts + 1 WHERE update_id = %s", (row[0],))
            return row[0], row[1], row[2] + 1

    def _run(self, update_id: int, payload: str, attempts: int) -> bool:
        """Run one taken row through the pipeline; False if it must be taken again later."""
        with self._cond:
            self._busy.add(update_id)
        finished = True
        try:
            if attempts > self.max_attempts:
                self._drop(update_id, attempts)
                return True
            finished = bool(self._process(json.loads(payload), queued=True))
            return finished
        finally:
            with self._cond:
                self._busy.discard(update_id)
                if finished:
                    self._waiting.discard(update_id)
                self._cond.notify_all()

    def _run_fast(self, update_id: int) -> None:
        try:
            taken = self._take(update_id=update_id)
        except DB_CONNECTION_ERRORS as exc:
            # Left stored: the chat workers take it once FAST_GRACE has passed.
            log.warning("fast update %s not taken: %s", update_id, exc)
            return
        if taken is None:
            with self._cond:
                self._waiting.discard(update_id)
                self._cond.notify_all()
            return
        self._run(*taken)

    def _drop(self, update_id: int, attempts: int) -> None:
        """A row taken too often without finishing: out of the queue, marked processed, its chat
        goes on. Only the id is logged: the payload is a user's message."""
        with connection_scope(), database.atomic():
            IncomingUpdate.delete().where(IncomingUpdate.update_id == update_id).execute()
            ProcessedUpdate.insert(update_id=update_id, processed_at=utcnow()).on_conflict_ignore().execute()
        log.error("update %s dropped: taken %d times without finishing (max_attempts %d)", update_id,
                  attempts - 1, self.max_attempts)

    def _listen(self) -> None:
        """PostgreSQL: LISTEN on a connection of its own; each notification wakes the workers."""
        while not self._stop.is_set():
            conn = None
            try:
                conn = _dedicated_connection(self._db)
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}")
                while not self._stop.is_set():
                    if select.select([conn], [], [], 0.5)[0]:
                        conn.poll()
                        if conn.notifies:
                            others = any(note.payload != self._token for note in conn.notifies)
                            conn.notifies.clear()
                            if others:  # this process's own stores woke its workers already
                                with self._cond:
                                    self._wake_locked()
            except Exception as exc:  # noqa: BLE001 - the fallback poll covers the gap; try again
                log.warning("update queue: LISTEN connection lost (%s); reconnecting", exc.__class__.__name__)
                self._stop.wait(ERROR_PAUSE)
            finally:
                if conn is not None:
                    conn.close()


class _Ownership:
    """Which chats one worker thread owns: the in-process set (shared by the process's threads)
    and, on PostgreSQL, a session advisory lock on the thread's own connection."""

    def __init__(self, db: peewee.Database, owned: set[int], cond: threading.Condition) -> None:
        self._db = db
        self._owned = owned
        self._cond = cond
        self._postgres = is_postgres(db)
        self._conn: Any = None

    def acquire(self, key: int) -> bool:
        with self._cond:
            if key in self._owned:
                return False
            self._owned.add(key)
        if not self._postgres:
            return True
        try:
            locked = self._query("SELECT pg_try_advisory_lock(%s, %s)", key)
        except BaseException:
            with self._cond:
                self._owned.discard(key)
            raise
        if not locked:
            with self._cond:
                self._owned.discard(key)
        return bool(locked)

    def release(self, key: int) -> None:
        try:
            if self._postgres:
                self._query("SELECT pg_advisory_unlock(%s, %s)", key)
        except Exception:  # noqa: BLE001 - closing the connection lets go of every lock it held
            self.reset()
        finally:
            with self._cond:
                self._owned.discard(key)
                self._cond.notify_all()

    def _query(self, sql: str, key: int) -> Any:
        if self._conn is None:
            self._conn = _dedicated_connection(self._db)
        with self._conn.cursor() as cur:
            cur.execute(sql, (NAMESPACE, lock_key(key)))
            return cur.fetchone()[0]

    def reset(self) -> None:
        """Drop the connection (and with it every lock it held): after an error, nothing is known."""
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            self._conn = None


def _dedicated_connection(db: peewee.Database) -> Any:
    """A psycopg2 connection of its own (autocommit) to the application's database, outside the
    pool: a session advisory lock or a LISTEN must stay with the thread that made it."""
    import psycopg2

    params = {k: v for k, v in db.connect_params.items() if v is not None}
    conn = psycopg2.connect(dbname=db.database, connect_timeout=10, **params)
    conn.autocommit = True
    return conn
