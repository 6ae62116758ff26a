"""/reading through the pipeline: the spread keyboard with costs, the question, the questionnaire,
the debit before the reading and the refund when it fails, interrupted readings, refusals."""
from __future__ import annotations

import datetime as dt
from typing import Any

from framework import connection_scope
from plugins.tarot import ledger
from plugins.tarot.models import Reading, Transaction, UserSession
from plugins.tarot.reading import Answer, SpreadChoice

START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def _grant(bot: Any, telegram_id: int, credits: int) -> None:
    from framework import User, database

    with connection_scope(), database.atomic():
        ledger.credit(User.get(User.telegram_id == telegram_id), credits, "bonus", START)
    bot.app.plugin_cache("tarot").invalidate("balance:")


def test_a_three_card_reading_from_the_keyboard(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1, language_code="en")
    replies = alice.send("/reading")
    assert replies[0].text == "🎁 Welcome! You have 3 free credits for your first readings."
    menu = replies[-1]
    assert menu.text == "🔮 Choose a spread. You have 3 credits."
    assert menu.button_texts[:3] == ["Single card (1) — 1 credit", "Past · Present · Future (3) — 2 credits",
                                     "🔒 Celtic Cross (10) — 5 credits"]
    assert "🔒 Year ahead (12) — 6 credits" in menu.button_texts
    asked = alice.press("Past · Present · Future (3) — 2 credits")
    assert asked[-1].text == "Past · Present · Future: what is your question? Write it, or skip."
    reading = alice.send("Will the move go well?")
    assert reading[0].text.startswith("🔮 Past · Present · Future (−2)\n\n1. Past — ")
    body = "\n\n".join(r.text for r in reading[1:])
    assert "You asked: “Will the move go well?”" in body and "Taken together:" in body
    with connection_scope():
        row = Reading.get()
        assert (row.status, row.spread_type, row.question, len(row.cards)) == ("completed", "three",
                                                                              "Will the move go well?", 3)
        assert Transaction.get_by_id(row.transaction_id).amount == -2
        assert UserSession.get().status == "completed"
        assert ledger.verify() == []
    assert alice.send("/balance")[0].text.startswith("💳 You have 1 credit.")


def test_the_questionnaire_is_asked_and_stored(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    alice.send("/tarot")
    alice.press("Relationship (5) — 3 credits")
    alice.press("Skip")
    assert alice.last.text == "A couple of questions first. Where are you in love right now?"
    alice.press("Dating")
    assert alice.last.text == "What matters most to you in this reading?"
    replies = alice.press("The future")
    assert "the outlook card shows the direction" in replies[-1].text
    with connection_scope():
        assert Reading.get().questionnaire_responses == {"status": "dating", "focus": "future"}


def test_not_enough_credits_is_a_polite_answer_with_a_buy_button(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    alice.send("/reading")
    replies = alice.press("Celtic Cross (10) — 5 credits")
    assert replies[-1].text == "Celtic Cross needs the Premium plan. See /subscription."
    alice.send("/reading single")
    replies = alice.send("/reading career")
    assert replies[-1].text == "🙏 This reading costs 3 credits and you have 2. You can buy more credits:"
    assert replies[-1].button_texts == ["💳 Buy credits"]
    assert alice.press("💳 Buy credits")[-1].button_texts[0] == "10 credits — 50 ⭐"


def test_a_failing_interpretation_is_refunded(bot: Any, monkeypatch: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the LLM fell over")

    monkeypatch.setattr(bot.app.llm, "complete", broken)
    replies = alice.send("/reading three")
    assert replies[-1].text == "😔 Sorry, the reading could not be written. Your 2 credits were given back."
    with connection_scope():
        row = Reading.get()
        assert row.status == "error" and "the LLM fell over" in row.error_message
        types = [(t.type, t.amount, t.status) for t in Transaction.select().order_by(Transaction.id)]
        assert types == [("bonus", 3, "completed"), ("reading", -2, "refunded"), ("refund", 2, "completed")]
        assert ledger.verify() == []
    assert alice.send("/balance")[0].text.startswith("💳 You have 3 credits.")


def test_an_abandoned_reading_is_interrupted_and_free(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    alice.send("/reading")
    alice.press("Single card (1) — 1 credit")
    bot.advance(minutes=20)
    bot.run_job("tarot.sessions")
    with connection_scope():
        assert Reading.get().status == "interrupted"
        assert UserSession.get().status == "expired"
        assert Transaction.select().where(Transaction.type == "reading").count() == 0
    alice.send("/reading")  # a new reading after /cancel or a timeout starts afresh
    alice.press("Single card (1) — 1 credit")
    alice.send("/reading")  # ... and leaving it for another interrupts it at once
    with connection_scope():
        assert [r.status for r in Reading.select().order_by(Reading.id)] == ["interrupted", "interrupted"]


def test_forged_spread_and_answer_buttons_are_refused(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    alice.send("/reading")
    assert alice.press(data=SpreadChoice(spread="bogus"))[-1].text == "This button is no longer valid."
    alice.press("Relationship (5) — 3 credits")
    alice.press("Skip")
    assert alice.press(data=Answer(reading=1, question=0, option=99))[-1].text == "This button is no longer valid."
    assert alice.press(data=Answer(reading=999, question=0, option=0))[-1].text == "This button is no longer valid."
    assert bot.user(2).press(data=SpreadChoice(spread="single"), owner=1)[-1].text == "This button is not for you."


def test_the_llm_reading_is_asked_with_spread_positions_cards_and_question_and_split(bot: Any, monkeypatch: Any) -> None:
    from framework import LLMResult

    bot.set_time(START)
    asked: list[list[dict[str, Any]]] = []
    long_text = "\n\n".join(f"Paragraph {n}: " + "the cards speak " * 60 for n in range(10))

    def complete(messages: list[dict[str, Any]], **kwargs: Any) -> LLMResult:
        asked.append(messages)
        return LLMResult(long_text, "openai", 900, cached=False, fell_back=False)

    monkeypatch.setattr(bot.app.llm, "complete", complete)
    alice = bot.user(1)
    replies = alice.send("/reading three Should I move?")
    prompt = asked[0][-1]["content"]
    assert "Question: Should I move?" in prompt
    with connection_scope():
        row = Reading.get()
        for drawn, position in zip(row.cards, ("Past", "Present", "Future"), strict=True):
            assert f"{drawn['position'] + 1}. {position}: " in prompt
        assert row.interpretation == long_text
    assert "English" in asked[0][0]["content"]
    parts = [r.text for r in replies[2:]]  # after the welcome and the cards
    assert len(parts) >= 3 and all(len(p) <= 3500 for p in parts) and "\n\n".join(parts) == long_text
