"""The circuit breaker: input from one user can never pause a plugin for everyone.

A failing dependency fails many users' updates, an input that crashes a handler fails one
user's: the breaker pauses a plugin only when the failures in its window come from distinct
users (3 by default); a user whose own updates keep failing is held off that plugin alone for a
while, told once; and while a plugin is paused, a user who writes to it is told so.
"""
from __future__ import annotations

from typing import Any

import pytest

import plugins.expenses.nlp
from framework import ConfigError, load_config

SORRY = "Something went wrong, sorry. Please try again."
HELD = "This feature failed on your last few requests, so I am leaving it alone for you for 1 min."
PAUSED = "This feature is paused for now, please try again later."
ADMIN = 900


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The breaker's monotonic clock, moved by the test."""
    import framework.plugins

    now = [1000.0]
    monkeypatch.setattr(framework.plugins.time, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def make_bot(bot_factory: Any, db_url: str, clock: list[float]) -> Any:
    """A bot on SQLite with in-memory services, or on PostgreSQL with Redis."""
    def make(plugins: dict[str, Any], **config: Any) -> Any:
        return bot_factory(plugins, db_url=db_url, redis=not db_url.startswith("sqlite"), admins=(ADMIN,),
                           config={"ratelimit": {"messages_per_minute": 1000}, **config})
    return make


def _texts(replies: list[Any], chat: int) -> list[str]:
    return [r.text for r in replies if r.chat_id == chat]


def test_one_users_failures_hold_off_that_user_only_and_never_pause_the_plugin(make_bot: Any,
                                                                               clock: list[float]) -> None:
    bot = make_bot({"flaky": {"module": "plugins_for_tests.flaky"}})
    mallory, alice = bot.user(1), bot.user(2, language_code="ru")
    assert _texts(mallory.send("/boom"), 1) == [SORRY]
    assert _texts(mallory.send("/boom"), 1) == [SORRY]
    third = mallory.send("/boom")
    assert _texts(third, 1)[0] == SORRY and _texts(third, 1)[1].startswith(HELD)  # told once, here
    assert _texts(third, ADMIN) == []
    for _ in range(20):  # held off: the plugin is not run for them, and they are not told again
        assert mallory.send("/boom") == []
        assert mallory.send("/fine") == []
    assert bot.app.plugins.plugins["flaky"].status == "enabled"
    assert _texts(alice.send("/fine"), 2) == ["fine"]  # everyone else is served as before
    assert _texts(alice.send("/boom"), 2) == ["Что-то пошло не так, извините. Попробуйте ещё раз."]

    clock[0] += 61  # the hold ends: served again, and a new failure holds them off again at once
    assert _texts(mallory.send("/fine"), 1) == ["fine"]
    again = mallory.send("/boom")
    assert len(_texts(again, 1)) == 2 and _texts(again, 1)[1].startswith(HELD)
    assert bot.app.plugins.plugins["flaky"].status == "enabled"


def test_the_hold_is_told_in_the_users_language(make_bot: Any) -> None:
    bot = make_bot({"flaky": {"module": "plugins_for_tests.flaky"}})
    ivan = bot.user(3, language_code="ru")
    replies = [ivan.send("/boom") for _ in range(3)][-1]
    assert _texts(replies, 3)[1].startswith("Эта функция несколько раз подряд не справилась с вашими запросами")


def test_failures_of_three_distinct_users_pause_the_plugin(make_bot: Any) -> None:
    bot = make_bot({"flaky": {"module": "plugins_for_tests.flaky"}})
    for user in (1, 2):
        bot.user(user).send("/boom")
        bot.user(user).send("/boom")
    assert bot.app.plugins.plugins["flaky"].status == "enabled"  # four failures, two users
    replies = bot.user(3).send("/boom")
    assert bot.app.plugins.plugins["flaky"].status == "paused"
    assert _texts(replies, ADMIN)[0].startswith("⚠️ Plugin flaky was paused")
    assert _texts(bot.user(4).send("/fine"), 4) == [PAUSED]


def test_the_number_of_users_is_configured(make_bot: Any) -> None:
    bot = make_bot({"flaky": {"module": "plugins_for_tests.flaky"}},
                   circuit_breaker={"users": 2, "user_errors": 10})
    bot.user(1).send("/boom")
    bot.user(2).send("/boom")
    assert bot.app.plugins.plugins["flaky"].status == "paused"


def test_the_old_errors_setting_is_named_with_its_replacement() -> None:
    with pytest.raises(ConfigError, match=r"circuit_breaker\.errors: replaced by circuit_breaker\.users"):
        load_config(None, env={}, overrides={"circuit_breaker": {"errors": 5}})


def _broken(*args: Any, **kwargs: Any) -> Any:
    """A dependency of quick add failing for everyone (the kind of failure the breaker is for)."""
    raise RuntimeError("the parser's dependency is down")


def test_a_paused_plugin_tells_whoever_writes_to_it(make_bot: Any, monkeypatch: pytest.MonkeyPatch,
                                                    clock: list[float]) -> None:
    bot = make_bot({"expenses": {"charts": False}})
    alice = bot.user(1001)
    alice.send("coffee 5")
    saved = bot.find_button(1001, "Undo")[1]
    with monkeypatch.context() as broken:
        broken.setattr(plugins.expenses.nlp, "parse_expense", _broken)
        for user in (1, 2, 3):
            assert _texts(bot.user(user).send("coffee 5"), user) == [SORRY]
    assert bot.app.plugins.plugins["expenses"].status == "paused"

    # never silence: a quick add, a command, a button, in private...
    assert _texts(alice.send("coffee 5"), 1001) == [PAUSED]
    assert _texts(alice.send("/list"), 1001) == [PAUSED]
    assert [r.text for r in alice.press(data=saved)] == [PAUSED]
    assert _texts(bot.user(1002, language_code="ru").send("кофе 5"), 1002) == [
        "Эта функция временно приостановлена, попробуйте позже."]
    assert _texts(alice.in_chat(-100).send("/list"), -100) == [PAUSED]  # ...and in a group

    clock[0] += 601  # the pause ends: quick add works again
    assert _texts(alice.send("coffee 5"), 1001)[0].startswith("✅ Saved")


def test_in_a_group_a_paused_plugins_text_handler_is_told_once_per_user_and_pause(make_bot: Any,
                                                                                  clock: list[float]) -> None:
    bot = make_bot({"recorder": {"module": "plugins_for_tests.recorder"}})
    recorder = bot.app.plugins.plugins["recorder"]
    recorder.status, recorder.paused_until = "paused", clock[0] + 600  # as the breaker leaves it
    alice, bob = bot.user(1).in_chat(-100), bot.user(2).in_chat(-100)
    assert _texts(alice.send("hello everyone"), -100) == [PAUSED]
    assert alice.send("how are you") == []  # most group messages were never meant for the plugin
    assert _texts(bob.send("hi"), -100) == [PAUSED]
    assert _texts(bot.user(1).send("hello"), 1) == [PAUSED]  # in private: every time
    assert _texts(bot.user(1).send("hello"), 1) == [PAUSED]
    clock[0] += 601
    assert alice.send("7") == [] and recorder.status == "enabled"  # served (it reads numbers) and silent
    recorder.status, recorder.paused_until = "paused", clock[0] + 600  # a new pause: told again
    assert _texts(alice.send("hello everyone"), -100) == [PAUSED]


def test_a_held_off_user_pressing_a_button_is_told_briefly_and_nothing_runs(make_bot: Any,
                                                                             monkeypatch: pytest.MonkeyPatch,
                                                                             clock: list[float]) -> None:
    from framework import connection_scope
    from plugins.expenses.models import Expense

    bot = make_bot({"expenses": {"charts": False}})
    alice, bob = bot.user(1001), bot.user(1002)
    alice.send("coffee 5")
    bob.send("tea 3")
    alices_undo, bobs_undo = bot.find_button(1001, "Undo")[1], bot.find_button(1002, "Undo")[1]
    with monkeypatch.context() as broken:  # alice's own input keeps failing: she alone is held off
        broken.setattr(plugins.expenses.nlp, "parse_expense", _broken)
        assert _texts(alice.send("coffee 5"), 1001) == [SORRY]
        assert _texts(alice.send("coffee 5"), 1001) == [SORRY]
        assert _texts(alice.send("coffee 5"), 1001)[1].startswith(HELD)
    assert bot.app.plugins.plugins["expenses"].status == "enabled"

    # A press is answered with the short notice (a button answer, not a new message), and the
    # handler does not run: her expense is still there.
    assert [(r.method, r.text) for r in alice.press(data=alices_undo)] == [
        ("answer_callback_query", "This feature is resting for you for a little while.")]
    with connection_scope():
        assert Expense.select().where(Expense.is_deleted == False).count() == 2  # noqa: E712
    assert _texts(bob.press(data=bobs_undo), 1002)[0].startswith("🗑")    # bob is served as before

    clock[0] += 61  # the hold ends: her button works again
    assert _texts(alice.press(data=alices_undo), 1001)[0].startswith("🗑")
