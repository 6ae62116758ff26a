"""Fixtures for the tarot plugin tests (the project root first on sys.path, as for expenses)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str:
    """Run each bot test on SQLite and on PostgreSQL."""
    return request.param


@pytest.fixture
def bot(bot_factory: Any, database: str) -> Any:
    return bot_factory(plugins={"tarot": {}}, database=database)
