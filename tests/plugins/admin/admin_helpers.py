"""Shared by the admin plugin tests: the bot they run on, its people, and readers of what the
plugin left in the database (in a connection of the test's own)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from framework import User, connection_scope
from framework.models import AuditLog, PdAuditLog

ROOT = Path(__file__).resolve().parents[3]
SUPER, KEYS, MANAGER, ALICE, BOB = 5001, 5002, 5003, 5101, 5102
T0 = dt.datetime(2025, 5, 5, 12, 0, tzinfo=dt.UTC)
PLUGINS = {"admin": {}, "hello": {"module": "plugbot_hello"}}
NAMES = {SUPER: "boss", KEYS: "keys", MANAGER: "manager", ALICE: "alice", BOB: "bob"}
UNKNOWN = "I don't know /{command}. See /help."
NOT_ALLOWED = "You are not allowed to do that."


def make_bot(bot_factory: Any, monkeypatch: pytest.MonkeyPatch, backend: str = "memory", **kwargs: Any) -> Any:
    """A started bot with admin + hello, superadmin SUPER; KEYS may manage keys and MANAGER users."""
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "hello"))
    if backend == "redis":
        kwargs.setdefault("database", "postgres")
        kwargs.setdefault("redis", True)
    kwargs.setdefault("admins", (SUPER,))
    bot = bot_factory(plugins=kwargs.pop("plugins", PLUGINS), **kwargs)
    bot.set_time(T0)
    for telegram_id in NAMES:
        person(bot, telegram_id).send("/start")
    grant(bot, KEYS, can_manage_keys=True, can_manage_users=False, can_view_stats=False)
    grant(bot, MANAGER, can_manage_keys=False, can_manage_users=True, can_view_stats=False)
    return bot


def person(bot: Any, telegram_id: int) -> Any:
    """The test user with the same Telegram profile every time (a bare one would erase the username)."""
    username = NAMES[telegram_id]
    return bot.user(telegram_id, username=username, first_name=username.title())


def grant(bot: Any, telegram_id: int, **roles: bool) -> None:
    with connection_scope():
        bot.app.access.grant(User.get(User.telegram_id == telegram_id), **roles)


def texts(replies: list[Any]) -> list[str]:
    return [reply.text for reply in replies if reply.text]


def text(replies: list[Any]) -> str:
    return "\n".join(texts(replies))


def user(telegram_id: int) -> User:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id)


def audit_rows(action: str | None = None) -> list[AuditLog]:
    with connection_scope():
        query = AuditLog.select().order_by(AuditLog.id)
        return list(query.where(AuditLog.action == action) if action else query)


def pd_rows(action: str | None = None) -> list[PdAuditLog]:
    with connection_scope():
        query = PdAuditLog.select().order_by(PdAuditLog.id)
        return list(query.where(PdAuditLog.action == action) if action else query)


def counts() -> tuple[int, int]:
    """How many rows both audit trails hold: a refused command must leave both as they were."""
    return len(audit_rows()), len(pd_rows())
