"""Fixtures for the admin plugin tests: a bot with the admin plugin and the example ``hello``
plugin (to have something to switch off, ban users from, and report about them)."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SUPER, KEYS, MANAGER, ALICE, BOB = 5001, 5002, 5003, 5101, 5102
T0 = dt.datetime(2025, 5, 5, 12, 0, tzinfo=dt.UTC)
PLUGINS = {"admin": {}, "hello": {"module": "plugbot_hello"}}


@pytest.fixture(params=[pytest.param("memory", id="memory+sqlite"),
                        pytest.param("redis", id="redis+postgres", marks=[pytest.mark.redis, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


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


NAMES = {SUPER: "boss", KEYS: "keys", MANAGER: "manager", ALICE: "alice", BOB: "bob"}


def person(bot: Any, telegram_id: int) -> Any:
    """The test user with the same Telegram profile every time (a bare one would erase the username)."""
    username = NAMES[telegram_id]
    return bot.user(telegram_id, username=username, first_name=username.title())


def grant(bot: Any, telegram_id: int, **roles: bool) -> None:
    from framework import User, connection_scope

    with connection_scope():
        bot.app.access.grant(User.get(User.telegram_id == telegram_id), **roles)


@pytest.fixture
def bot(bot_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return make_bot(bot_factory, monkeypatch)
