"""Fixtures for the expenses plugin tests.

``tests/plugins/`` has no ``__init__.py``, so under a bare ``pytest`` run (which,
unlike ``python -m pytest``, does not put the project root on ``sys.path``) it
would be picked up as a namespace package named ``plugins`` and shadow the real
``plugins`` package. Putting the project root first keeps ``import plugins.expenses``
pointing at the code under test.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from expenses_helpers import START

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str:
    """Run each bot test on SQLite with in-memory services and on PostgreSQL with Redis (skipped when
    no server is reachable)."""
    return request.param


@pytest.fixture
def bot(bot_factory: Any, database: str) -> Any:
    """A bot with only the expenses plugin, its clock at :data:`expenses_helpers.START`."""
    test_bot = bot_factory(plugins={"expenses": {}}, database=database, redis=database == "postgres")
    test_bot.set_time(START)
    return test_bot


@pytest.fixture
def alice(bot: Any) -> Any:
    return bot.user(1001, first_name="Alice", language_code="en")


@pytest.fixture
def bob(bot: Any) -> Any:
    return bot.user(2002, first_name="Bob", language_code="en")

