"""Fixtures shared by the core-services tests of this folder."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from plugins_for_tests import BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``memory`` (SQLite, in-memory services) or ``redis`` (PostgreSQL + Redis): each test runs on both."""
    return request.param


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh database: a SQLite file under ``data/`` or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/bot.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def typed_bot(bot_factory: Any) -> Any:
    """A bot with the ``plugins_for_tests.typed`` plugin (declared arguments, typed buttons, SKIP),
    its clock on Wednesday 12 March 2025, noon UTC."""
    bot = bot_factory({"typed": {"module": "plugins_for_tests.typed"}})
    bot.set_time(dt.datetime(2025, 3, 12, 12, 0, tzinfo=dt.UTC))
    return bot
