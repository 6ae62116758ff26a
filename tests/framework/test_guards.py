"""Checks the core makes on a plugin's behalf, each pinned by a test that fails without it:
a job name registered twice, the circuit breaker sparing the built-ins, NUL bytes in incoming
text, and a conversation's end surviving the handler that takes the text next."""
from __future__ import annotations

from typing import Any

import pytest

from framework.registry import RegistrationError

HELLO = {"hello": {"module": "plugbot_hello"}}


@pytest.fixture(autouse=True)
def _hello_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from plugins_for_tests import HELLO_PATH

    monkeypatch.syspath_prepend(HELLO_PATH)


def texts(replies: list[Any]) -> list[str]:
    return [r.text for r in replies if r.text]


def test_a_job_name_registered_twice_is_an_error(bot_factory) -> None:
    with pytest.raises(RegistrationError, match="job 'twice_job.tick' registered twice"):
        bot_factory({"twice_job": {"module": "plugins_for_tests.twice_job"}})


def test_the_breaker_never_pauses_a_builtin(bot_factory, monkeypatch) -> None:
    """A failing built-in (/help) must not take /start, /cancel and /deleteme away from everyone."""
    from framework.builtins import core

    def broken_help(ctx: Any) -> None:
        raise RuntimeError("help broke")

    monkeypatch.setattr(core, "help_", broken_help)
    bot = bot_factory(config={"circuit_breaker": {"errors": 2}})
    user = bot.user(5)
    sorry = bot.app.i18n.t("core", "error", "en")
    for _ in range(4):
        assert texts(user.send("/help")) == [sorry]
    assert bot.app.plugins.plugins["core"].status == "enabled"
    assert texts(user.send("/cancel")) == [bot.app.i18n.t("core", "cancel.nothing", "en")]


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_nul_in_a_message_reaches_the_handler_as_a_replacement_character(bot_factory, database: str) -> None:
    """PostgreSQL cannot store NUL in a text column; the handler must get text it can save."""
    bot = bot_factory(HELLO, database=database)
    user = bot.user(6)
    user.send("/nickname")
    assert texts(user.send("Ne\x00o")) == ["Call you “Ne\ufffdo”?"]
    user.press("Yes")
    assert texts(user.send("/hello"))[0].startswith("👋 Hello, Ne\ufffdo!")


def test_a_conversation_ended_before_skip_stays_ended(bot_factory) -> None:
    bot = bot_factory({"leaver": {"module": "plugins_for_tests.leaver"}})
    user = bot.user(7)
    assert texts(user.send("/talk")) == ["talking"]
    assert texts(user.send("hi")) == ["in the conversation: hi"]
    assert texts(user.send("bye")) == ["text handler: bye"]       # ended, then passed on
    assert bot.app.sessions.load(7) is None or bot.app.sessions.load(7).state is None
    assert texts(user.send("hi again")) == ["text handler: hi again"]
