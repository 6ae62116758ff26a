"""hello through the real pipeline, the way a user meets it: the template for a plugin's tests.

Each test talks to a whole bot (``bot_factory``) through simulated users and checks what the
bot answered and what it stored. Nothing here reaches into the framework's internals.
"""
from __future__ import annotations

import json
from typing import Any

from plugbot_hello.handlers import NicknameAnswer
from plugbot_hello.models import Greeting

from framework import User, connection_scope
from framework.testing import assert_locales_complete, record_sql

ALICE, BOB, GROUP = 1001, 1002, -100500
HELLO = {"module": "plugbot_hello"}   # an installed plugin is found by its entry point: {} is enough


def texts(replies: list[Any]) -> list[str]:
    return [reply.text for reply in replies if reply.text]


def greeting_of(telegram_id: int) -> Greeting | None:
    with connection_scope():
        return Greeting.select().join(User).where(User.telegram_id == telegram_id).first()


# -- a command, and a command with arguments ------------------------------------------

def test_hello_counts_greetings(bot: Any) -> None:
    alice = bot.user(ALICE, first_name="Alice")
    assert texts(alice.send("/hello")) == ["👋 Hello, Alice! That's greeting #1."]
    assert texts(alice.send("/hello")) == ["👋 Hello, Alice! That's greeting #2."]
    assert greeting_of(ALICE).count == 2


def test_morning_takes_on_or_off_and_answers_anything_else_with_its_usage(bot: Any) -> None:
    alice = bot.user(ALICE)
    assert texts(alice.send("/morning on")) == ["I'll say good morning at 9:00 your time."]
    assert greeting_of(ALICE).morning is True
    assert texts(alice.send("/morning maybe")) == [       # the core parsed it; the handler never ran
        "“maybe” is not one of: on, off.\nUsage: /morning <on|off> — good-morning messages on|off"]
    assert greeting_of(ALICE).morning is True
    assert texts(alice.send("/morning off")) == ["No more good-morning messages."]


# -- the conversation and its buttons -------------------------------------------------

def test_nickname_asks_confirms_with_buttons_and_is_used(bot: Any) -> None:
    alice = bot.user(ALICE, first_name="Alice")
    assert texts(alice.send("/nickname")) == ["How should I call you? Send a nickname, or /cancel."]
    [confirm] = alice.send("Neo")
    assert confirm.text == "Call you “Neo”?"
    assert confirm.button_texts == ["Yes", "No"]
    assert texts(alice.send("what?")) == ["Please answer with the buttons above, or /cancel."]

    [edited] = alice.press("Yes")                        # by its label, on the newest message showing it
    assert (edited.method, edited.text) == ("edit_message_text", "Done: I'll call you Neo.")
    assert texts(alice.send("/hello")) == ["👋 Hello, Neo! That's greeting #1."]


def test_no_asks_again(bot: Any) -> None:
    alice = bot.user(ALICE)
    alice.send("/nickname")
    alice.send("Neo")
    assert texts(alice.press(data=NicknameAnswer(yes=False))) == [   # by its data, as the plugin builds it
        "How should I call you? Send a nickname, or /cancel."]
    assert greeting_of(ALICE) is None or greeting_of(ALICE).nickname is None


def test_someone_elses_button_is_refused_before_the_handler(bot: Any) -> None:
    alice = bot.user(ALICE)
    alice.send("/nickname")
    alice.send("Neo")
    replies = alice.press(data=NicknameAnswer(yes=True), owner=BOB)   # a button made out for Bob
    assert [r.text for r in replies if r.method == "answer_callback_query"] == ["This button is not for you."]
    assert texts(alice.press(data="nick:forged")) == ["This button is no longer valid."]
    assert greeting_of(ALICE) is None or greeting_of(ALICE).nickname is None


# -- groups -----------------------------------------------------------------------------

def test_quiet_chats_silence_hello_in_that_group_only(bot_factory: Any) -> None:
    bot = bot_factory({"hello": {**HELLO, "quiet_chats": [GROUP]}})
    alice = bot.user(ALICE, first_name="Alice")
    assert texts(alice.in_chat(GROUP).send("/hello")) == []
    assert texts(alice.in_chat(GROUP - 1).send("/hello")) == ["👋 Hello, Alice! That's greeting #1."]


# -- the job ----------------------------------------------------------------------------

def test_morning_job_greets_opted_in_users_once_a_morning_in_their_language(bot: Any) -> None:
    alice = bot.user(ALICE, first_name="Alice")
    ivan = bot.user(BOB, first_name="Ivan", language_code="ru")
    alice.send("/morning on")
    ivan.send("/morning on")
    bot.user(1003).send("/hello")                         # never opted in

    sent = {reply.chat_id: reply.text for reply in bot.run_job("hello.morning")}
    assert sent == {ALICE: "Good morning, Alice! ☀️", BOB: "Доброе утро, Ivan! ☀️"}
    assert bot.run_job("hello.morning") == []            # once a morning

    bot.advance(hours=3)                                   # not the morning hour any more
    assert bot.run_job("hello.morning") == []
    bot.advance(hours=21)                                  # the next morning
    assert {reply.chat_id for reply in bot.run_job("hello.morning")} == {ALICE, BOB}


# -- texts -------------------------------------------------------------------------------

def test_locales_complete() -> None:
    assert_locales_complete("hello", module="plugbot_hello")


def test_russian_user_gets_russian_texts(bot: Any) -> None:
    ivan = bot.user(BOB, first_name="Ivan", language_code="ru")
    assert texts(ivan.send("/hello")) == ["👋 Привет, Ivan! Это приветствие №1."]
    ivan.send("/language en")                              # the user's choice wins over Telegram's
    assert texts(ivan.send("/hello")) == ["👋 Hello, Ivan! That's greeting #2."]


# -- the user's data --------------------------------------------------------------------

def test_mydata_exports_hellos_row(bot: Any) -> None:
    alice = bot.user(ALICE)
    alice.send("/hello")
    [document] = alice.send("/mydata")
    exported = json.loads(document.document)["plugins"]["hello"]
    assert exported == {"greetings": 1, "nickname": None, "morning": False}


def test_deleteme_deletes_hellos_row(bot: Any) -> None:
    alice = bot.user(ALICE)
    alice.send("/hello")
    alice.send("/deleteme")
    alice.press("Yes, delete everything")
    with connection_scope():
        assert Greeting.select().count() == 0


# -- what an update costs the database ---------------------------------------------------

def test_hello_touches_its_table_a_bounded_number_of_times(bot: Any) -> None:
    alice = bot.user(ALICE)
    alice.send("/hello")
    with record_sql() as statements:
        alice.send("/hello")
    assert 1 <= len([sql for sql in statements if '"hello_greetings"' in sql]) <= 3
