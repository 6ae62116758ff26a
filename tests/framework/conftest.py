"""Fixtures shared by the core-services tests of this folder."""
from __future__ import annotations

from pathlib import Path

import pytest
from pb_testplugins import BACKENDS


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
