"""The bot's health: one set of checks behind the webhook's ``/healthz`` (JSON) and ``plugbot health`` (lines).

Three checks, each answered in words an operator can act on:

* ``database`` answers a query ("connection refused", "database "bot" does not exist");
* ``redis`` answers a PING, when one is configured;
* ``bot``: a bot process is running on this database and getting somewhere — its
  heartbeat is fresh (:mod:`framework.heartbeat`), Telegram answered its last
  ``getUpdates`` recently (polling), and updates in hand do get processed.

Both entry points read the same rows, so they cannot disagree: ``/healthz``
inside the bot and ``health`` in a container's HEALTHCHECK see the same thing.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import peewee

from .db import connection_scope, utcnow
from .heartbeat import describe_process, format_age, latest_process
from .redaction import describe_error

STALL_AFTER = 120.0
"""Seconds without progress (no getUpdates answer beyond the long poll, or updates in hand and
none processed) after which the bot counts as stuck."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        """``database: ok``, ``redis: failing — connection refused``."""
        state = "ok" if self.ok else "failing"
        return f"{self.name}: {state}" + (f" — {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class HealthReport:
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    def lines(self) -> list[str]:
        return [check.line() for check in self.checks] + ["healthy" if self.healthy else "unhealthy"]

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"

    def as_json(self) -> dict[str, Any]:
        """``/healthz``'s body: ``{"healthy": false, "checks": {"database": {"ok": true}, "redis":
        {"ok": false, "detail": "connection refused"}, ...}}``, checks in the order they ran."""
        return {"healthy": self.healthy,
                "checks": {check.name: {"ok": check.ok, **({"detail": check.detail} if check.detail else {})}
                           for check in self.checks}}


def check_health(config: Mapping[str, Any], redis_client: Any) -> HealthReport:
    """Run every check against the database the model proxy is bound to and ``redis_client``."""
    database = _check_database()
    checks = [database]
    if redis_client is not None:
        checks.append(_check_redis(redis_client))
    checks.append(_check_bot(config) if database.ok else Check("bot", False, "unknown: the database cannot be read"))
    return HealthReport(tuple(checks))


def app_health(app: Any) -> HealthReport:
    """The checks as the running application sees them (its database pool and Redis client)."""
    return check_health(app.config, app.redis)


def _check_database() -> Check:
    from .db import database

    try:
        with connection_scope():
            database.execute_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return Check("database", False, describe_error(exc))
    return Check("database", True)


def _check_redis(client: Any) -> Check:
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return Check("redis", False, describe_error(exc))
    return Check("redis", True)


def _check_bot(config: Mapping[str, Any]) -> Check:
    from .db import database
    from .heartbeat import is_running
    from .models import ProcessedUpdate

    try:
        row = latest_process()
        with connection_scope():
            last = (ProcessedUpdate.select(peewee.fn.MAX(ProcessedUpdate.processed_at)).scalar()
                    if database.table_exists(ProcessedUpdate._meta.table_name) else None)
    except Exception as exc:  # noqa: BLE001
        return Check("bot", False, f"cannot read its state: {describe_error(exc)}")
    if row is None:
        return Check("bot", False, "not running: no bot process has run on this database")
    now = utcnow()
    if isinstance(last, str):  # SQLite hands an aggregate back as the stored text
        last = ProcessedUpdate.processed_at.python_value(last)
    processed = (f"last update processed {format_age(now - last)} ago" if last is not None
                 else "no update processed yet")
    about = f"{describe_process(row, now)}, {processed}"
    if not is_running(row, now):
        return Check("bot", False, f"not running ({about})")
    working = last is not None and (now - last).total_seconds() <= STALL_AFTER  # a long batch is progress too
    if row.mode == "polling" and not working:
        long_poll = float(config["telegram"]["polling"]["timeout"])
        since = row.polled_at or row.started_at
        if (now - since).total_seconds() > long_poll + STALL_AFTER:
            why = f": {row.poll_error}" if row.poll_error else ""
            return Check("bot", False, f"stuck: Telegram has not answered getUpdates for "
                                       f"{format_age(now - since)}{why} ({about})")
    if row.in_hand and not working:
        return Check("bot", False, f"stuck: {row.in_hand} update(s) in hand and none processed for "
                                   f"{format_age(now - last) if last else 'ever'} ({about})")
    return Check("bot", True, about)
