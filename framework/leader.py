"""Which process runs the jobs: a leader lease every process competes for.

Every process of a deployment runs a scheduler, so that jobs go on when any one of them dies;
only the process holding the lease runs them. Three kinds of lease, chosen by
:func:`make_lease` from what the deployment has:

* :class:`RedisLease` (Redis configured): ``SET key holder NX PX lease``, renewed by the
  holder with a compare-and-set script, so a process whose lease ran out (it stalled, Redis
  dropped the key) never extends the lease another process took meanwhile. A dead leader's
  key expires and another process takes it within one lease period.
* :class:`PostgresLease` (PostgreSQL, no Redis): a session advisory lock held on a connection
  of its own. A killed process's connection closes and the server releases the lock at once;
  a host that vanishes is cut off by ``idle_session_timeout`` set to the lease period.
* :class:`SoleLease` (SQLite: one process by design): always the leader.

A :class:`LeaderElector` keeps trying on a daemon thread, every third of the lease period, so
a lease is renewed well before it expires. Leadership also ends, in this process's own view,
when the last successful renewal is a lease period old: a leader cut off from Redis stops
running jobs before another can take over. The hand-over can still overlap by a moment (a
job started just before the lease ran out); the scheduler's tick keys
(:class:`framework.scheduler.DbTickStore`) make sure no tick runs twice because of it.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any, Protocol

import peewee

from .redaction import describe_error
from .redisconn import ThrottledLog

log = logging.getLogger("plugbot.leader")

LEASE_SECONDS = 10.0
LEADER_KINDS = ("auto", "redis", "postgres", "none")

# Only the holder may extend or drop the lease: compare the value, then act, atomically.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Lease(Protocol):
    """One attempt at a time to hold (or keep) the leadership; errors mean "not held"."""

    kind: str

    def hold(self) -> bool:
        """Take the lease if free, renew it if ours; True while this process holds it."""
        ...

    def release(self) -> None:
        """Give the lease up now (a clean stop), so another process need not wait for it to expire."""
        ...


def holder_name() -> str:
    """``host:pid:random``: unique per process, readable in Redis when an operator looks."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SoleLease:
    """The only process there is (SQLite): always the leader."""

    kind = "none"

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


class RedisLease:
    """``SET key holder NX PX lease``, renewed with a compare-and-set script."""

    kind = "redis"

    def __init__(self, client: Any, key: str, lease_seconds: float, holder: str | None = None) -> None:
        self.client = client
        self.key = key
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.holder = holder or holder_name()
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        if self._renew(keys=[self.key], args=[self.holder, self.lease_ms]):
            return True
        return bool(self.client.set(self.key, self.holder, nx=True, px=self.lease_ms))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.holder])

    def current_holder(self) -> str | None:
        """Who holds the lease now (for logs, tests and operators)."""
        return self.client.get(self.key)


class PostgresLease:
    """A session advisory lock on a connection of its own (not the pool's: a pooled
    connection changes hands, and the lock belongs to the session that took it)."""

    kind = "postgres"

    def __init__(self, db: peewee.PostgresqlDatabase, lease_seconds: float, name: str = "plugbot.jobs") -> None:
        self._connect_args = {"dbname": db.database, **db.connect_params}
        self.lease_ms = max(1000, int(lease_seconds * 1000))
        self.lock_id = zlib.crc32(name.encode())  # a stable bigint every process computes alike
        self._conn: Any = None
        self._held = False

    def hold(self) -> bool:
        lost = False
        if self._held:
            try:
                with self._conn.cursor() as cur:
                    cur.execute("SELECT 1")  # the session, and so the lock, is still there
                return True
            except Exception:  # noqa: BLE001 - the session is gone, and the lock went with it
                self._drop()
                lost = True
        try:
            if self._conn is None or self._conn.closed:
                self._open()
            with self._conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_id,))
                self._held = bool(cur.fetchone()[0])
            return self._held
        except Exception:
            self._drop()
            if lost:  # unlike a Redis key, a lock whose session ended is surely not ours any more
                return False
            raise

    def _open(self) -> None:
        import psycopg2

        self._held = False
        # A leader that vanishes without closing its socket (host down, network cut) still holds
        # the lock: the server ends an idle session after the lease period, and keepalives notice
        # a dead peer, so another process can take over.
        self._conn = psycopg2.connect(
            **self._connect_args, connect_timeout=5, keepalives=1, keepalives_idle=5, keepalives_interval=2,
            keepalives_count=2, options=f"-c idle_session_timeout={self.lease_ms}")
        self._conn.autocommit = True

    def _drop(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass
        self._conn = None

    def release(self) -> None:
        self._drop()  # closing the session releases its advisory locks


def make_lease(kind: str, *, redis: Any, prefix: str, db: peewee.Database, lease_seconds: float,
               holder: str | None = None) -> Lease:
    """The lease ``scheduler.leader`` asks for; ``auto``: Redis if configured, else PostgreSQL's
    advisory lock if the database is PostgreSQL, else none (SQLite serves one process)."""
    if kind == "auto":
        kind = "redis" if redis is not None else "postgres" if isinstance(db, peewee.PostgresqlDatabase) else "none"
    if kind == "redis":
        if redis is None:
            raise ValueError("scheduler.leader is 'redis' but no redis.url is configured")
        return RedisLease(redis, f"{prefix}lock:scheduler:leader", lease_seconds, holder)
    if kind == "postgres":
        if not isinstance(db, peewee.PostgresqlDatabase):
            raise ValueError("scheduler.leader is 'postgres' but database.url is not PostgreSQL")
        return PostgresLease(db, lease_seconds)
    return SoleLease()


class LeaderElector:
    """Keeps trying to hold ``lease`` and answers :meth:`is_leader` for the scheduler.

    ``listeners`` are called with True/False when this process becomes or stops being the
    leader (logged too: an operator reading the logs sees where jobs run).
    """

    def __init__(self, lease: Lease, lease_seconds: float = LEASE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.lease = lease
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 3  # renewed twice more before it could expire
        self._monotonic = monotonic
        self._valid_until = 0.0
        self._leader = False
        self._reported = False  # what the listeners were last told
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warn = ThrottledLog(log, interval=60)
        self.listeners: list[Callable[[bool], None]] = []

    @property
    def kind(self) -> str:
        return self.lease.kind

    def is_leader(self) -> bool:
        """Does this process hold the lease, renewed less than a lease period ago?"""
        with self._lock:
            return self._leader and self._monotonic() < self._valid_until

    def step(self) -> bool:
        """One attempt to take or renew the lease; returns whether this process leads now."""
        attempted_at = self._monotonic()  # the lease runs from before the request, never from after
        held: bool | None
        try:
            held = self.lease.hold()
        except Exception as exc:  # noqa: BLE001 - an outage: unknown, tried again next step
            self._warn.warning("leader lease (%s) not renewed: %s", self.lease.kind, describe_error(exc))
            held = None
        with self._lock:
            was = self._reported
            if held:
                self._valid_until = attempted_at + self.lease_seconds
            # An answer "not yours" ends the leadership at once; an outage ends it when the lease
            # this process last held runs out (another process cannot have taken it before).
            self._leader = bool(held) or (held is None and self._leader and self._monotonic() < self._valid_until)
            now = self._reported = self._leader
        if now != was:
            if self.lease.kind != "none":  # a sole process always leads: nothing to tell
                log.log(logging.INFO if now else logging.WARNING, "this process %s the job leader (%s lease)",
                        "became" if now else "is no longer", self.lease.kind)
            for listener in list(self.listeners):
                listener(now)
        return now

    def start(self) -> None:
        """Try once now (a single process leads from its first tick), then keep trying on a thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self.step()
        self._thread = threading.Thread(target=self._run, name="plugbot-leader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.step()

    def stop(self) -> None:
        """Stop renewing and give the lease up, so another process takes over without waiting."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.interval + 1)
        with self._lock:
            self._leader = False
            self._valid_until = 0.0
        try:
            self.lease.release()
        except Exception as exc:  # noqa: BLE001 - it will expire on its own
            log.warning("could not release the leader lease (%s): %s", self.lease.kind, describe_error(exc))
