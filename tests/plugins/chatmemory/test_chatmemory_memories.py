"""/remember, /memories, /forget and /pronouns through the bot."""
from __future__ import annotations

from typing import Any


def texts(replies: list[Any]) -> list[str]:
    return [r.text for r in replies]


def test_remember_list_and_forget(bot, ann) -> None:
    assert texts(ann.send("/remember   I like   green tea ")) == ["🧠 I'll remember: I like green tea"]
    ann.send("/remember my cat is called Tom")
    assert texts(ann.send("/memories")) == [
        "What I remember about you (2):\n1. I like green tea\n2. my cat is called Tom"]
    assert texts(ann.send("/forget 1")) == ["Forgotten: I like green tea"]
    assert texts(ann.send("/forget 5")) == ["There is no fact number 5. See /memories."]
    assert texts(ann.send("/forget all")) == ["Forgotten: your only fact."]
    assert texts(ann.send("/memories")) == ["I don't remember anything about you yet. Teach me with /remember."]


def test_duplicates_are_refused_whatever_the_case_and_spacing(bot, ann) -> None:
    ann.send("/remember I like tea")
    assert texts(ann.send("/remember i  LIKE tea")) == ["I already remember that: i LIKE tea"]
    assert texts(ann.send("/memories"))[0].count("\n") == 1


def test_too_long_a_fact_is_refused_with_its_length(make_bot) -> None:
    bot = make_bot({"max_fact_length": 10})
    ann = bot.user(1001)
    assert texts(ann.send("/remember " + "x" * 11)) == [
        "That fact is 11 characters; I keep facts of up to 10. Please shorten it."]


def test_the_cap_drops_the_oldest_fact(make_bot) -> None:
    bot = make_bot({"max_facts": 3})
    ann = bot.user(1001)
    for n in range(1, 4):
        ann.send(f"/remember fact {n}")
        bot.advance(minutes=1)
    assert texts(ann.send("/remember fact 4")) == [
        "🧠 I'll remember: fact 4\nI keep at most 3 facts, so I forgot your oldest one."]
    assert texts(ann.send("/memories")) == ["What I remember about you (3):\n1. fact 2\n2. fact 3\n3. fact 4"]


def test_forget_takes_a_number_or_all(bot, ann) -> None:
    assert texts(ann.send("/forget first")) == ["Usage: /forget <number> (see /memories) or /forget all"]


def test_pronouns_set_show_and_clear(bot, ann) -> None:
    assert texts(ann.send("/pronouns")) == [
        "You have not set pronouns. Set them with /pronouns she/her (or any text)."]
    assert texts(ann.send("/pronouns she/her")) == ["Pronouns saved: she/her"]
    assert texts(ann.send("/pronouns"))[0].startswith("Your pronouns: she/her.")
    assert texts(ann.send("/pronouns -")) == ["Pronouns cleared."]


def test_memories_speak_russian(bot) -> None:
    ivan = bot.user(3003, language_code="ru")
    assert texts(ivan.send("/remember люблю чай")) == ["🧠 Запомню: люблю чай"]
    ivan.send("/remember кот Том")
    assert texts(ivan.send("/forget all")) == ["Забыл все 2 факта."]
