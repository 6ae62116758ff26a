"""Sessions and conversations through the real update pipeline, on both backends.

The hello example's /nickname dialogue: IDLE → AWAITING_NICKNAME → AWAITING_CONFIRMATION (Yes/No).
"""
from __future__ import annotations

import json
import logging
import time

import pytest
from plugins_for_tests import HELLO, NOTES, build, restart, texts

from framework import connection_scope

ALICE = 501
TIMED_OUT = "That conversation timed out, start again with /nickname."


def _greeting(telegram_id: int):
    from plugbot_hello.models import Greeting

    from framework import User

    with connection_scope():
        return (Greeting.select().join(User).where(User.telegram_id == telegram_id).first())


def _yes():
    """hello's "Yes" button data, as pressed on a message from before a restart."""
    from plugbot_hello.handlers import NicknameAnswer

    return NicknameAnswer(yes=True)


def _enter(user, state: str) -> None:
    assert texts(user.send("/nickname")) == ["How should I call you? Send a nickname, or /cancel."]
    if state == "AWAITING_CONFIRMATION":
        reply = user.send("Neo")[-1]
        assert reply.text == "Call you “Neo”?"
        assert reply.button_texts == ["Yes", "No"]


# -- the Redis keys of the spec ------------------------------------------------------------------

@pytest.mark.redis
@pytest.mark.postgres
def test_session_lives_under_the_spec_keys_in_redis(bot_factory, monkeypatch) -> None:
    bot = build(bot_factory, "redis", monkeypatch, HELLO)
    redis, prefix = bot.app.redis, bot.app.config["redis"]["prefix"]
    alice = bot.user(ALICE)

    alice.send("/nickname")
    assert redis.get(f"{prefix}user:{ALICE}:state") == "hello:AWAITING_NICKNAME"
    assert 290 <= redis.ttl(f"{prefix}user:{ALICE}:state") <= 300
    assert 290 <= redis.ttl(f"{prefix}user:{ALICE}:temp_data") <= 300
    assert redis.sismember(f"{prefix}active_sessions", str(ALICE))

    alice.send("Neo")
    assert redis.get(f"{prefix}user:{ALICE}:state") == "hello:AWAITING_CONFIRMATION"
    assert json.loads(redis.get(f"{prefix}user:{ALICE}:temp_data"))["nickname"] == "Neo"

    alice.press("Yes")
    assert redis.get(f"{prefix}user:{ALICE}:state") is None
    assert redis.get(f"{prefix}user:{ALICE}:temp_data") is None
    assert not redis.sismember(f"{prefix}active_sessions", str(ALICE))
    assert _greeting(ALICE).nickname == "Neo"


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize("ttl", [120, 3600])                 # 3600: longer than the timeout notice's default
def test_session_ttl_is_configurable(bot_factory, monkeypatch, ttl) -> None:
    bot = build(bot_factory, "redis", monkeypatch, HELLO, config={"sessions": {"ttl": ttl}})
    redis, prefix = bot.app.redis, bot.app.config["redis"]["prefix"]
    bot.user(ALICE).send("/nickname")
    assert ttl - 10 <= redis.ttl(f"{prefix}user:{ALICE}:state") <= ttl
    assert ttl - 10 <= redis.ttl(f"{prefix}user:{ALICE}:temp_data") <= ttl
    assert redis.ttl(f"{prefix}user:{ALICE}:conversation") >= ttl - 10


def test_conversation_completes_and_keeps_its_temp_data(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = bot.user(ALICE)
    _enter(alice, "AWAITING_CONFIRMATION")
    session = bot.app.sessions.load(ALICE)
    assert (session.owner, session.state, session.data["nickname"]) == ("hello", "AWAITING_CONFIRMATION", "Neo")
    assert ALICE in bot.app.sessions.active()

    alice.press("No")                                     # back one step, temp data kept
    assert bot.app.sessions.load(ALICE).state == "AWAITING_NICKNAME"
    alice.send("Trinity")
    assert texts(alice.press("Yes")) == ["Done: I'll call you Trinity."]
    assert bot.app.sessions.load(ALICE).state is None
    assert ALICE not in bot.app.sessions.active()
    assert _greeting(ALICE).nickname == "Trinity"


# -- /cancel ------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["AWAITING_NICKNAME", "AWAITING_CONFIRMATION"])
def test_cancel_from_every_state_returns_to_idle(bot_factory, monkeypatch, backend, state) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = bot.user(ALICE)
    _enter(alice, state)
    assert bot.app.sessions.load(ALICE).state == state

    assert texts(alice.send("/cancel")) == ["Cancelled."]
    session = bot.app.sessions.load(ALICE)
    assert (session.state, session.owner, session.data) == (None, None, {})
    assert ALICE not in bot.app.sessions.active()
    if backend == "redis":
        prefix = bot.app.config["redis"]["prefix"]
        assert bot.app.redis.exists(f"{prefix}user:{ALICE}:state", f"{prefix}user:{ALICE}:temp_data") == 0

    # The next text is not taken as a nickname, nor reported as a timeout.
    replies = texts(alice.send("Morpheus"))
    assert not any("Morpheus" in text or text == TIMED_OUT for text in replies)
    assert _greeting(ALICE) is None or _greeting(ALICE).nickname is None
    if state == "AWAITING_CONFIRMATION":                 # the old Yes button is dead too
        assert texts(alice.press("Yes")) == ["This button is no longer valid."]
        assert _greeting(ALICE) is None or _greeting(ALICE).nickname is None
    assert texts(alice.send("/cancel")) == ["Nothing to cancel."]


# -- timeouts -------------------------------------------------------------------------------------

def test_message_after_the_state_expired_is_told_it_timed_out(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, NOTES, config={"sessions": {"ttl": 1}})
    alice = bot.user(ALICE)
    _enter(alice, "AWAITING_CONFIRMATION")
    time.sleep(1.2)

    assert bot.app.sessions.load(ALICE).state is None
    assert ALICE not in bot.app.sessions.active()
    assert texts(alice.send("Neo")) == [TIMED_OUT]          # not a nickname, not another plugin's text
    assert _greeting(ALICE) is None or _greeting(ALICE).nickname is None
    # Told once: afterwards text goes to the plugins' text handlers again.
    assert texts(alice.send("hello again")) == ["notes heard: hello again"]


# -- two plugins -------------------------------------------------------------------------------------

def test_two_plugins_never_see_each_others_conversation(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, NOTES)
    alice = bot.user(ALICE)
    assert texts(alice.send("just chatting")) == ["notes heard: just chatting"]

    _enter(alice, "AWAITING_CONFIRMATION")                  # hello's dialogue holds the session
    assert texts(alice.send("/peek")) == ["notes sees state=None data={}"]
    assert texts(alice.send("Neo again")) == ["Please answer with the buttons above, or /cancel."]

    assert texts(alice.send("/note")) == ["What should I note?"]   # notes takes the session over
    assert bot.app.sessions.load(ALICE).owner == "notes"
    assert texts(alice.press("Yes")) == ["This button is no longer valid."]   # hello's stale button
    assert _greeting(ALICE) is None or _greeting(ALICE).nickname is None
    assert texts(alice.send("buy milk")) == ["noted: buy milk"]
    assert bot.app.sessions.load(ALICE).state is None

    bob = bot.user(ALICE + 1)                               # sessions are per user as well
    _enter(bob, "AWAITING_NICKNAME")
    assert texts(alice.send("free again")) == ["notes heard: free again"]
    assert bot.app.sessions.load(ALICE + 1).state == "AWAITING_NICKNAME"


# -- restarts -----------------------------------------------------------------------------------------

@pytest.mark.redis
@pytest.mark.postgres
def test_redis_session_survives_a_restart(bot_factory, monkeypatch) -> None:
    first = build(bot_factory, "redis", monkeypatch, HELLO)
    _enter(first.user(ALICE), "AWAITING_CONFIRMATION")

    second = restart(bot_factory, first, monkeypatch, HELLO)
    assert second.app is not first.app
    session = second.app.sessions.load(ALICE)
    assert (session.owner, session.state, session.data["nickname"]) == ("hello", "AWAITING_CONFIRMATION", "Neo")
    replies = second.user(ALICE).press(data=_yes())
    assert texts(replies) == ["Done: I'll call you Neo."]
    assert _greeting(ALICE).nickname == "Neo"
    assert second.app.sessions.load(ALICE).state is None


def test_memory_session_is_lost_on_restart(bot_factory, monkeypatch) -> None:
    first = build(bot_factory, "memory", monkeypatch, HELLO)
    _enter(first.user(ALICE), "AWAITING_CONFIRMATION")
    second = restart(bot_factory, first, monkeypatch, HELLO)
    assert second.app.sessions.load(ALICE).state is None
    assert texts(second.user(ALICE).press(data=_yes())) == ["This button is no longer valid."]


# -- a conversation belongs to the chat it started in ---------------------------------------------

def test_group_chatter_is_not_taken_as_a_private_conversations_answer(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = bot.user(ALICE)
    _enter(alice, "AWAITING_NICKNAME")

    in_group = alice.in_chat(-100500)
    assert not any("Call you" in (r.text or "") for r in in_group.send("lol"))

    reply = alice.send("Neo")[-1]
    assert reply.text == "Call you “Neo”?"
    alice.press("Yes")
    assert _greeting(ALICE).nickname == "Neo"


# -- a handler asking for a transition its state does not declare ----------------------------------

WIZARD = {"wizard": {"module": "plugins_for_tests.wizard"}}


def _audit_actions() -> list[str]:
    from framework.models import AuditLog

    with connection_scope():
        return [row.action for row in AuditLog.select().where(AuditLog.plugin == "wizard").order_by(AuditLog.id)]


@pytest.mark.parametrize(("answer", "error"), [("change", "InvalidTransition"), ("colour", "LookupError")])
def test_an_undeclared_transition_is_apologised_for_logged_and_rolled_back(
        bot_factory, monkeypatch, backend, caplog, answer, error) -> None:
    bot = build(bot_factory, backend, monkeypatch, WIZARD)
    alice = bot.user(ALICE)
    assert texts(alice.send("/order")) == ["Which size?"]
    assert texts(alice.send("large")) == ["Order a large one? Answer yes or change."]

    with caplog.at_level(logging.ERROR, logger="plugbot.pipeline"):
        replies = texts(alice.send(answer))

    # The user gets the core's apology, not the reply the failed handler had queued.
    assert replies == [bot.app.i18n.t("core", "error", "en")] and "Which size then?" not in replies
    # The log names the plugin, and the traceback the state and the handler to fix.
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR and "wizard" in r.getMessage()]
    assert record.exc_info[1].__class__.__name__ == error
    trace = logging.Formatter().formatException(record.exc_info)
    assert "conversation 'order' of plugin 'wizard', state ASK_CONFIRM" in trace
    assert "handler plugins_for_tests.wizard.on_confirm" in trace
    if answer == "change":
        assert "ASK_CONFIRM → ASK_SIZE is not a declared transition (declared from ASK_CONFIRM: none)" in trace
    # Nothing the failed handler wrote was committed, and the session is where it was.
    assert _audit_actions() == ["wizard_size"]
    session = bot.app.sessions.load(ALICE)
    assert (session.owner, session.state, session.data["size"]) == ("wizard", "ASK_CONFIRM", "large")

    # Not corrupted: the same conversation carries on from that state.
    assert texts(alice.send("yes")) == ["Ordered: large."]
    assert _audit_actions() == ["wizard_size", "wizard_ordered"]
    assert bot.app.sessions.load(ALICE).state is None
