"""Handled by default (framework/handling.py): a handler's normal return handles its update,
``return SKIP`` / ``raise Skip`` passes it on, for text, conversation, content and button handlers."""
from __future__ import annotations

import pytest
from plugins_for_tests import texts

TYPED = {"typed": {"module": "plugins_for_tests.typed"}}
NOTES = {"notes": {"module": "plugins_for_tests.notes"}}
STALE = "This button is no longer valid."
PHOTO = [{"file_id": "p1", "file_unique_id": "u1", "width": 10, "height": 10}]


def test_a_text_handler_that_returns_handles_the_text(typed_bot) -> None:
    assert texts(typed_bot.user(7).send("hello")) == ["first took it"]        # returned None: the second never runs


@pytest.mark.parametrize("text", ["skip this", "raise this"])
def test_skip_passes_the_text_to_the_next_handler(typed_bot, text: str) -> None:
    assert texts(typed_bot.user(7).send(text)) == [f"second got {text}"]
    assert typed_bot.app.plugins.plugins["typed"].status == "enabled"           # skipping is no failure


def test_content_handlers_take_turns_then_the_caption_is_text(typed_bot) -> None:
    user = typed_bot.user(7)
    assert texts(user.send_message({"photo": PHOTO, "caption": "first"})) == ["first photo handler"]
    assert texts(user.send_message({"photo": PHOTO, "caption": "second"})) == ["second photo handler"]
    assert texts(user.send_message({"photo": PHOTO, "caption": "skip me"})) == ["second got skip me"]
    assert texts(user.send_message({"photo": PHOTO})) == []


def test_a_conversation_state_that_skips_hands_the_text_to_the_text_handlers(typed_bot) -> None:
    user = typed_bot.user(7)
    assert texts(user.send("/quiz 2")) == ["level 2: 2+2?"]
    assert texts(user.send("pass")) == ["first took it"]
    assert texts(user.send("what?")) == ["answer with the buttons (level 2)"]   # still in the quiz
    assert texts(user.press("4")) == ["right"]
    assert typed_bot.app.sessions.load(7).state is None


def test_a_conversations_buttons_reach_its_state_only_while_it_is_on(typed_bot) -> None:
    user = typed_bot.user(7)
    user.send("/quiz 1")
    user.send("/cancel")
    assert texts(user.press("5")) == [STALE]
    user.send("/quiz 3")
    assert texts(user.press("5")) == ["wrong"]


def test_a_conversations_command_declares_its_arguments(typed_bot) -> None:
    assert texts(typed_bot.user(7).send("/quiz 9")) == ["level must be at most 3.\nUsage: /quiz <level>"]
    assert typed_bot.app.sessions.load(7).state is None


def test_a_conversation_declares_its_command_and_entry_together() -> None:
    from framework import Conversation

    with_command = Conversation("a", states={"S": []}, command="a")
    with_command.state("S")(lambda ctx: None)
    with pytest.raises(ValueError, match="declares command /a but no @entry handler"):
        with_command.bind("p")
    without = Conversation("b", states={"S": []})
    without.state("S")(lambda ctx: None)
    without.entry(lambda ctx: None)
    with pytest.raises(ValueError, match="has an @entry handler but no command="):
        without.bind("p")


def test_two_plugins_conversations_and_text_handlers_coexist(bot_factory) -> None:
    bot = bot_factory({**TYPED, **NOTES})
    user = bot.user(7)
    assert texts(user.send("/note")) == ["What should I note?"]
    assert texts(user.send("milk")) == ["noted: milk"]                 # the conversation handled it
    assert texts(user.send("skip it")) == ["second got skip it"]      # typed's first handler skipped it
