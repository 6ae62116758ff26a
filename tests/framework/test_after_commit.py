"""``ctx.after_commit``: callbacks run once the update's changes are visible to everyone, and
never for changes that were rolled back."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from plugins_for_tests import PROBE, build, texts
from plugins_for_tests.probe import AFTER_COMMIT

ALICE = 802
FAILED = ["Something went wrong, sorry. Please try again."]


@pytest.fixture(autouse=True)
def recorded() -> Iterator[list[tuple[str, str, int]]]:
    AFTER_COMMIT.clear()
    yield AFTER_COMMIT
    AFTER_COMMIT.clear()


def test_callback_runs_once_the_change_is_visible_to_other_connections(bot_factory, monkeypatch, backend,
                                                                       recorded) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    assert texts(bot.user(ALICE).send("/write one")) == ["written"]
    assert recorded == [("write", "one", 1)]


def test_callback_of_a_failed_handler_never_runs(bot_factory, monkeypatch, backend, recorded) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    assert texts(bot.user(ALICE).send("/boom")) == FAILED
    assert recorded == []


def test_a_later_handler_failing_drops_only_its_own_callbacks(bot_factory, monkeypatch, backend,
                                                              recorded) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    assert texts(bot.user(ALICE).send("chain boom")) == FAILED
    assert recorded == [("chain_first", "chain boom", 1)]
    recorded.clear()
    assert texts(bot.user(ALICE).send("chain first boom")) == FAILED  # the first handler: all rolled back
    assert recorded == []
