"""/card, /balance, /history, /paysupport and /terms."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from framework import SKIP, Button, CallbackData

from . import deck, interpretation, ledger, spreads, wallet
from .buttons import BuyMenu
from .models import Credits, DailyCard, Reading

PAGE_SIZE = 5
READING_TTL = 3600  # seed 001: recent readings are cached for an hour


class HistoryPage(CallbackData, prefix="tarot_hist"):
    page: int


class HistoryOpen(CallbackData, prefix="tarot_read"):
    reading: int


def welcome_middleware(ctx: Any, call_next: Any) -> Any:
    """The first tarot update of a user opens their account and, once per person ever, the welcome bonus."""
    if not Credits.select().where(Credits.user == ctx.user.id).exists():
        ledger.account_of(ctx.user, ctx.now())
        if wallet.welcome(ctx):
            ctx.reply(ctx.t("welcome", credits=ctx.settings["welcome_bonus"]))
    return call_next()


def local_day(ctx: Any) -> dt.date:
    try:
        zone = ZoneInfo(ctx.user.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return ctx.now().astimezone(zone).date()


def card(ctx: Any) -> None:
    """The free card of the day: the same card all day (the user's local day)."""
    day = local_day(ctx)
    row = DailyCard.get_or_none((DailyCard.user == ctx.user.id) & (DailyCard.day == day))
    if row is None:
        drawn = deck.draw(1, float(ctx.settings["reversal_probability"]))[0]
        DailyCard.insert(user=ctx.user.id, day=day, card=drawn.card.id, reversed=drawn.reversed,
                         created_at=ctx.now()).on_conflict_ignore().execute()
        row = DailyCard.get((DailyCard.user == ctx.user.id) & (DailyCard.day == day))
    chosen = deck.by_id()[row.card]
    orientation = ctx.t("reversed" if row.reversed else "upright")
    ctx.reply(ctx.t("card.text", day=day.isoformat(), card=chosen.name(ctx.lang), orientation=orientation,
                    keywords=chosen.keywords_in(ctx.lang, row.reversed), meaning=chosen.meaning(ctx.lang, row.reversed)))


def balance(ctx: Any) -> None:
    credits = wallet.balance(ctx)
    current = wallet.subscription(ctx.user, ctx.now())
    lines = [ctx.tn("balance.credits", credits)]
    if current is None:
        lines.append(ctx.t("balance.tier_basic"))
    else:
        lines.append(ctx.t("balance.tier", tier=ctx.t(f"tier.{current.tier}"),
                           expires=current.expires_at.date().isoformat(),
                           state=ctx.t(f"subscription.state.{current.status}")))
    recent = ledger.recent(ctx.user, 5)
    if recent:
        lines.append("")
        lines.append(ctx.t("balance.recent"))
        lines.extend(ctx.t("balance.line", date=tx.created_at.date().isoformat(), type=ctx.t(f"type.{tx.type}"),
                           amount=f"{tx.amount:+d}", after=tx.credits_after,
                           status="" if tx.status == "completed" else f" ({ctx.t(f'status.{tx.status}')})")
                     for tx in recent)
    ctx.reply("\n".join(lines), buttons=[[Button(ctx.t("buy.button"), BuyMenu())]])


def history(ctx: Any) -> None:
    _history_page(ctx, 0, edit=False)


def history_page(ctx: Any, data: HistoryPage) -> Any:
    if data.page < 0:
        return SKIP
    _history_page(ctx, data.page, edit=True)
    return None


def _history_page(ctx: Any, page: int, *, edit: bool) -> None:
    query = Reading.select().where((Reading.user == ctx.user.id) & (Reading.status == "completed"))
    total = query.count()
    if total == 0:
        ctx.reply(ctx.t("history.empty"))
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(page, pages - 1)
    rows = query.order_by(Reading.created_at.desc(), Reading.id.desc()).offset(page * PAGE_SIZE).limit(PAGE_SIZE)
    buttons = [[Button(ctx.t("history.item", date=r.created_at.date().isoformat(), spread=ctx.t(f"spread.{r.spread_type}"),
                             question=(r.question or "")[:30]), HistoryOpen(reading=r.id))] for r in rows]
    nav = []
    if page > 0:
        nav.append(Button("◀", HistoryPage(page=page - 1)))
    if page + 1 < pages:
        nav.append(Button("▶", HistoryPage(page=page + 1)))
    if nav:
        buttons.append(nav)
    text = ctx.t("history.title", page=page + 1, pages=pages, total=total)
    (ctx.edit if edit else ctx.reply)(text, buttons=buttons)


def history_open(ctx: Any, data: HistoryOpen) -> Any:
    """Read a past reading again. Only one's own: another user's id is "no longer valid"."""
    key = f"reading:{ctx.user.id}:{data.reading}"

    def load() -> dict[str, Any] | None:
        row = Reading.get_or_none((Reading.id == data.reading) & (Reading.user == ctx.user.id)
                                  & (Reading.status == "completed"))
        if row is None:
            return None
        return {"spread": row.spread_type, "cards": row.cards, "text": row.interpretation,
                "question": row.question, "date": row.created_at.date().isoformat()}

    found = ctx.cache.get(key)
    if found is None:
        found = load()
        if found is None:
            return SKIP
        ctx.cache.set(key, found, ttl=READING_TTL)
    chosen = spreads.get(ctx.settings, found["spread"])
    cards = deck.from_json(found["cards"])
    lines = [interpretation.card_line(ctx.t, ctx.lang, chosen, drawn) for drawn in cards]
    head = ctx.t("history.heading", spread=ctx.t(f"spread.{chosen.id}"), date=found["date"])
    if found["question"]:
        head += "\n" + ctx.t("history.question", question=found["question"])
    ctx.reply(head + "\n\n" + "\n".join(lines))
    for part in interpretation.chunks(found["text"]):
        ctx.reply(part)
    return None


def paysupport(ctx: Any) -> None:
    contact = ctx.settings["support_contact"] or ctx.t("paysupport_here")
    ctx.reply(ctx.t("paysupport", contact=contact))


def terms(ctx: Any) -> None:
    ctx.reply(ctx.t("terms"))
