"""Fixtures shared by the core-services tests of this folder."""
from __future__ import annotations

import pytest
from pb_testplugins import BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``memory`` (SQLite, in-memory services) or ``redis`` (PostgreSQL + Redis): each test runs on both."""
    return request.param
