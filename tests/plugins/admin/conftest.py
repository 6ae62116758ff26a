"""Fixtures for the admin plugin tests (helpers in ``admin_helpers`` and ``broadcast_helpers``,
names no other test folder uses).

The project root goes first on ``sys.path`` so ``plugins.admin`` is the code under test, not
``tests/plugins`` seen as a namespace package.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from admin_helpers import ROOT
from admin_helpers import make_bot as make_admin_bot
from broadcast_helpers import SUPERADMIN

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(params=[pytest.param("memory", id="memory+sqlite"),
                        pytest.param("redis", id="redis+postgres", marks=[pytest.mark.redis, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def bot(bot_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return make_admin_bot(bot_factory, monkeypatch)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str:
    """Run the test on SQLite and on PostgreSQL (skipped, or failed under PLUGBOT_REQUIRE_SERVICES, without a server)."""
    return request.param


@pytest.fixture
def db_url(request: pytest.FixtureRequest, database: str, tmp_path: Path) -> str:
    """One database URL a test can open several bots on, one after another (a restart)."""
    if database == "sqlite":
        return f"sqlite:///{tmp_path}/admin.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def make_bot(db_url: str, bot_factory: Any) -> Any:
    """``make_bot(**settings)``: a bot with the admin plugin on the test's database, 999 its superadmin.

    ``db_url`` comes first so the database outlives the bots (fixtures are torn down in reverse).
    """
    def make(config: dict[str, Any] | None = None, **settings: Any) -> Any:
        return bot_factory({"admin": {"broadcast_per_second": 30, **settings}}, db_url=db_url,
                           admins=(SUPERADMIN,), config=config)
    return make
