"""The reliability suite: bad input, Redis and PostgreSQL outages, a misbehaving
Telegram, kill -9, security. It asserts outcomes (nothing lost, nothing duplicated, no crash),
never times.

A fast subset runs with the rest of ``pytest``; the full run (5,000 fuzzed updates, longer
outages, both databases) needs ``--runslow`` or ``PLUGBOT_RELIABILITY_FULL=1``::

    pytest tests/reliability                      # fast subset (< 2 minutes)
    pytest tests/reliability --runslow            # full run
    PLUGBOT_RELIABILITY_FULL=1 pytest             # full run from the project root

(``--runslow`` is defined here, so pytest knows it only when this directory is on the command
line; from the root use the environment variable.) The session ends with a summary table:
cases, updates sent, failures, data lost, duplicates.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "examples" / "hello"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from reliability_helpers import Ledger, PostgresCluster, skip_or_fail  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False,
                     help="run the full reliability suite (also: PLUGBOT_RELIABILITY_FULL=1)")


def full_run(config: pytest.Config) -> bool:
    env = os.environ.get("PLUGBOT_RELIABILITY_FULL", "") not in ("", "0", "false", "no")
    return env or bool(config.getoption("--runslow", default=False))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if full_run(config):
        return
    skip = pytest.mark.skip(reason="full reliability run only (--runslow or PLUGBOT_RELIABILITY_FULL=1)")
    for item in items:
        if "slow" in item.keywords and str(item.path).startswith(str(Path(__file__).parent)):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def full(pytestconfig: pytest.Config) -> bool:
    """True in the full run: the tests scale their sizes with it."""
    return full_run(pytestconfig)


_LEDGER = Ledger()


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    """Where each case records updates sent, failures, data lost and duplicates for the summary."""
    return _LEDGER


@pytest.fixture
def pg_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL server of the test's own, started; stopped and deleted afterwards, pass or fail."""
    reason = PostgresCluster.unavailable()
    if reason is not None:
        skip_or_fail(reason)
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _LEDGER.rows:
        return
    terminalreporter.section("reliability summary")
    for line in _LEDGER.table():
        terminalreporter.write_line(line)
