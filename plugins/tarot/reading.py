"""/reading (alias /tarot): choose a spread (each button shows its cost), ask a question or skip,
answer the spread's short questionnaire, then the reading.

The cost is debited before the cards are read (a ``reading`` transaction) and given back by a
``refund`` transaction when the reading cannot be written; both are in the update's database
transaction, so a crash in between leaves neither. A conversation left midway costs nothing: its
reading stays ``interrupted`` (see ``jobs.expire_sessions``). ``/reading <spread> [question]``
reads at once, without the questions.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from framework import SKIP, Button, CallbackData, Conversation, arg

from . import deck, interpretation, ledger, spreads, wallet
from .buttons import BuyMenu, SubscriptionMenu
from .models import SPREAD_TYPES, Reading, UserSession

log = logging.getLogger("plugbot.tarot")

LANGUAGE_NAMES = {"en": "English", "ru": "Russian"}


class SpreadChoice(CallbackData, prefix="tarot_spread"):
    spread: str


class SkipQuestion(CallbackData, prefix="tarot_skip"):
    reading: int


class Answer(CallbackData, prefix="tarot_answer"):
    reading: int
    question: int
    option: int


ARGS = [arg.choice("spread", SPREAD_TYPES, optional=True), arg.text("question", optional=True, max_length=500)]

reading_conversation = Conversation("reading", states={
    "CHOOSING": ["QUESTION"],
    "QUESTION": ["QUESTIONNAIRE"],
    "QUESTIONNAIRE": ["QUESTIONNAIRE"],
}, command="reading", help="help.reading", args=ARGS, allow_restricted=False,
    callbacks=[SpreadChoice, SkipQuestion, Answer])


@reading_conversation.entry
def start(ctx: Any, spread: str | None = None, question: str | None = None) -> None:
    interrupt_open_sessions(ctx)
    if ctx.session.state is not None:
        ctx.session.end()  # /reading again midway starts afresh
    if spread is not None:
        chosen = spreads.get(ctx.settings, spread)
        if _refused(ctx, chosen):
            return
        reading = Reading.create(user=ctx.user.id, spread_type=chosen.id, question=question, created_at=ctx.now())
        perform(ctx, reading, chosen)
        return
    session = UserSession.create(user=ctx.user.id, session_type="reading", started_at=ctx.now(),
                                 last_activity_at=ctx.now(), data={"step": "choosing"})
    ctx.session.goto("CHOOSING", session=session.id)
    ctx.reply(ctx.t("reading.choose", balance=wallet.balance(ctx)), buttons=spread_buttons(ctx))


def spread_buttons(ctx: Any) -> list[list[Button]]:
    user_tier = wallet.tier(ctx.user, ctx.now())
    rows = []
    for spread in spreads.all_spreads(ctx.settings):
        label = ctx.tn("reading.spread_button", spread.cost, name=ctx.t(f"spread.{spread.id}"), cards=spread.size)
        if not spreads.tier_allows(user_tier, spread.tier):
            label = "🔒 " + label
        rows.append([Button(label, SpreadChoice(spread=spread.id))])
    return rows


@reading_conversation.state("CHOOSING")
def on_spread(ctx: Any) -> Any:
    data = ctx.callback_data
    if not isinstance(data, SpreadChoice):
        if ctx.callback_data is not None:
            return SKIP
        ctx.reply(ctx.t("reading.use_buttons"))
        return None
    chosen = spreads.get(ctx.settings, data.spread)
    if chosen is None:
        return SKIP  # a forged spread: "this button is no longer valid"
    session_id = ctx.session.data.get("session")
    if _refused(ctx, chosen):
        _close_session(session_id, ctx, "completed", {"step": "refused"})
        ctx.session.end()
        return None
    reading = Reading.create(user=ctx.user.id, spread_type=chosen.id, created_at=ctx.now())
    _touch(session_id, ctx, {"step": "question", "reading": reading.id, "spread": chosen.id})
    ctx.session.goto("QUESTION", reading=reading.id)
    ctx.edit(ctx.t("reading.ask_question", spread=ctx.t(f"spread.{chosen.id}")),
             buttons=[[Button(ctx.t("reading.skip"), SkipQuestion(reading=reading.id))]])
    return None


@reading_conversation.state("QUESTION")
def on_question(ctx: Any) -> Any:
    reading = _current_reading(ctx)
    if reading is None:
        ctx.session.end()
        return SKIP
    data = ctx.callback_data
    if data is not None:
        if not isinstance(data, SkipQuestion) or data.reading != reading.id:
            return SKIP
        question = None
    else:
        question = ctx.text.strip()[:500] or None
    reading.question = question
    reading.save()
    chosen = spreads.get(ctx.settings, reading.spread_type)
    if chosen.questions:
        _touch(ctx.session.data.get("session"), ctx, {"step": "questionnaire", "reading": reading.id})
        ctx.session.goto("QUESTIONNAIRE", answers={}, asked=0)
        _ask(ctx, reading, chosen, 0)
        return None
    _finish(ctx, reading, chosen)
    return None


@reading_conversation.state("QUESTIONNAIRE")
def on_answer(ctx: Any) -> Any:
    reading = _current_reading(ctx)
    data = ctx.callback_data
    if reading is None or not isinstance(data, Answer):
        if data is None and reading is not None:
            ctx.reply(ctx.t("reading.use_buttons"))
            return None
        return SKIP
    chosen = spreads.get(ctx.settings, reading.spread_type)
    asked = int(ctx.session.data.get("asked", 0))
    if data.reading != reading.id or data.question != asked or not 0 <= data.option < len(chosen.questions[asked][1]):
        return SKIP  # an old question's button, or a forged one
    key, options = chosen.questions[asked]
    answers = {**ctx.session.data.get("answers", {}), key: options[data.option]}
    reading.questionnaire_responses = answers
    reading.save()
    if asked + 1 < len(chosen.questions):
        ctx.session.update(answers=answers, asked=asked + 1)
        _ask(ctx, reading, chosen, asked + 1)
        return None
    _finish(ctx, reading, chosen)
    return None


def _ask(ctx: Any, reading: Reading, chosen: spreads.Spread, index: int) -> None:
    key, options = chosen.questions[index]
    ctx.reply(ctx.t(f"question.{key}"),
              buttons=[[Button(ctx.t(f"answer.{key}.{option}"), Answer(reading=reading.id, question=index, option=n))]
                       for n, option in enumerate(options)])


def _finish(ctx: Any, reading: Reading, chosen: spreads.Spread) -> None:
    session_id = ctx.session.data.get("session")
    ctx.session.end()
    if _refused(ctx, chosen):
        reading.status = "interrupted"
        reading.error_message = "not enough credits"
        reading.save()
        _close_session(session_id, ctx, "completed", {"step": "refused", "reading": reading.id})
        return
    outcome = perform(ctx, reading, chosen)
    _close_session(session_id, ctx, "error" if outcome == "failed" else "completed",
                   {"step": outcome, "reading": reading.id})


def _refused(ctx: Any, chosen: spreads.Spread) -> bool:
    """Tell the user why the spread cannot be read now (tier, credits); True if so."""
    if not spreads.tier_allows(wallet.tier(ctx.user, ctx.now()), chosen.tier):
        ctx.reply(ctx.t("reading.needs_tier", spread=ctx.t(f"spread.{chosen.id}"), tier=ctx.t(f"tier.{chosen.tier}")),
                  buttons=[[Button(ctx.t("subscription.button"), SubscriptionMenu())]])
        return True
    if wallet.balance(ctx) < chosen.cost:
        _not_enough(ctx, chosen.cost)
        return True
    return False


def _not_enough(ctx: Any, cost: int) -> None:
    ctx.reply(ctx.tn("reading.not_enough", cost, balance=ledger.balance_of(ctx.user)),
              buttons=[[Button(ctx.t("buy.button"), BuyMenu())]])


def perform(ctx: Any, reading: Reading, chosen: spreads.Spread) -> str:
    """Debit, draw, interpret and send the reading; refund if it cannot be written.
    Returns ``"read"``, ``"refused"`` (not enough credits) or ``"failed"`` (refunded)."""
    started = time.monotonic()
    try:
        charge = ledger.debit(ctx.user, chosen.cost, "reading", ctx.now(),
                              metadata={"reading": reading.id, "spread": chosen.id})
    except ledger.InsufficientCredits:
        # The cached balance said yes, a parallel reading spent the credits first.
        reading.status, reading.error_message = "interrupted", "not enough credits"
        reading.save()
        _not_enough(ctx, chosen.cost)
        wallet.changed(ctx)
        return "refused"
    wallet.changed(ctx)
    reading.transaction = charge.id
    cards = deck.draw(chosen.size, float(ctx.settings["reversal_probability"]))
    reading.cards = [c.to_json() for c in cards]
    try:
        text = interpret(ctx, chosen, cards, reading.question, reading.questionnaire_responses or {})
    except Exception as exc:  # noqa: BLE001 - any failure to write the reading gives the credits back
        log.exception("tarot reading %s could not be written; refunding", reading.id)
        ledger.refund(charge, ctx.now(), reason=f"{exc.__class__.__name__}: {exc}"[:500])
        reading.status, reading.error_message = "error", f"{exc.__class__.__name__}: {exc}"[:500]
        reading.completed_at = ctx.now()
        reading.save()
        ctx.reply(ctx.tn("reading.failed", chosen.cost))
        return "failed"
    reading.interpretation = text
    reading.status = "completed"
    reading.completed_at = ctx.now()
    reading.duration_seconds = int(time.monotonic() - started)
    reading.save()
    send(ctx, reading, chosen, cards, text)
    return "read"


def interpret(ctx: Any, chosen: spreads.Spread, cards: list[deck.Drawn], question: str | None,
              answers: dict[str, str]) -> str:
    """The LLM's reading when a vendor is configured, else (and when it fails) the local one."""
    lang = ctx.lang

    def local() -> str:
        return interpretation.local_reading(ctx.t, lang, chosen, cards, question, answers)

    positions = [interpretation.position_name(ctx.t, chosen, drawn) for drawn in cards]
    messages = interpretation.prompt(ctx.t(f"spread.{chosen.id}"), LANGUAGE_NAMES.get(lang, "English"), chosen,
                                     cards, positions, question, answers, lang)
    result = ctx.llm.complete(messages, user_id=ctx.user.id, fallback=local, cache=False, max_tokens=1500)
    return result.text


def send(ctx: Any, reading: Reading, chosen: spreads.Spread, cards: list[deck.Drawn], text: str) -> None:
    lines = [interpretation.card_line(ctx.t, ctx.lang, chosen, drawn) for drawn in cards]
    ctx.reply(ctx.t("reading.heading", spread=ctx.t(f"spread.{chosen.id}"), cost=chosen.cost) + "\n\n"
              + "\n".join(lines))
    for part in interpretation.chunks(text):
        ctx.reply(part)


def _current_reading(ctx: Any) -> Reading | None:
    reading_id = ctx.session.data.get("reading")
    if reading_id is None:
        return None
    return Reading.get_or_none((Reading.id == reading_id) & (Reading.user == ctx.user.id)
                               & (Reading.status == "in_progress"))


def _touch(session_id: int | None, ctx: Any, data: dict[str, Any]) -> None:
    if session_id is not None:
        (UserSession.update(last_activity_at=ctx.now(), data=data)
         .where((UserSession.id == session_id) & (UserSession.user == ctx.user.id)).execute())


def _close_session(session_id: int | None, ctx: Any, status: str, data: dict[str, Any]) -> None:
    if session_id is not None:
        (UserSession.update(status=status, completed_at=ctx.now(), last_activity_at=ctx.now(), data=data)
         .where((UserSession.id == session_id) & (UserSession.user == ctx.user.id)).execute())


def interrupt_open_sessions(ctx: Any) -> None:
    """A new /reading leaves the previous unfinished one: it costs nothing and stays ``interrupted``."""
    open_sessions = list(UserSession.select().where((UserSession.user == ctx.user.id)
                                                    & (UserSession.status == "active")))
    for session in open_sessions:
        reading_id = (session.data or {}).get("reading")
        if reading_id is not None:
            (Reading.update(status="interrupted").where((Reading.id == reading_id) & (Reading.status == "in_progress"))
             .execute())
        session.status, session.completed_at = "expired", ctx.now()
        session.save()
