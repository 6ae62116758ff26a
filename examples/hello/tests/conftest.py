"""Fixtures for hello's tests: a bot with the plugin, on SQLite or PostgreSQL.

Copy this folder next to your plugin package. ``bot_factory`` comes from plugbot's
pytest plugin (``framework.testing``), installed with plugbot; nothing else is needed.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# Run from a plugbot checkout, the example is not installed: put its package on the path.
# An installed plugin (``pip install -e .``) needs no such line.
EXAMPLE = str(Path(__file__).resolve().parents[1])
if EXAMPLE not in sys.path:
    sys.path.insert(0, EXAMPLE)

# ``module`` names the package; an installed plugin is found by its entry point and
# ``{"hello": {}}`` is enough.
HELLO = {"module": "plugbot_hello"}


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str:
    """Each bot test runs on SQLite and on PostgreSQL (skipped, with the reason, without a server)."""
    return request.param


@pytest.fixture
def bot(bot_factory: Any, database: str) -> Any:
    """A started bot with hello and the built-ins; its clock stands on Wednesday 12 March 2025, 09:05 UTC."""
    import datetime as dt

    bot = bot_factory({"hello": HELLO}, database=database)
    bot.set_time(dt.datetime(2025, 3, 12, 9, 5, tzinfo=dt.UTC))
    return bot
