"""Fixtures for the chatmemory plugin tests (see tests/plugins/expenses/conftest.py for why the
project root goes first on sys.path)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from chatmemory_helpers import START

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)



@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_bot(bot_factory: Any, database: str) -> Any:
    def make(settings: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        bot = bot_factory(plugins={"chatmemory": settings or {}}, database=database, **kwargs)
        bot.set_time(START)
        return bot

    return make


@pytest.fixture
def bot(make_bot: Any) -> Any:
    return make_bot()


@pytest.fixture
def ann(bot: Any) -> Any:
    return bot.user(1001, first_name="Ann", language_code="en")


@pytest.fixture
def bob(bot: Any) -> Any:
    return bot.user(2002, first_name="Bob", language_code="en")
