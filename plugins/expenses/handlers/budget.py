"""/budget: show, set, remove the monthly budget."""
from __future__ import annotations

from framework import Context, arg

from .. import (
    money,
    preferences,
)
from ..budget import progress as budget_progress
from ..views import (
    View,
)
from . import common

BUDGET_ARGS = [arg.text("amount", optional=True)]

OFF_WORDS = frozenset({"off", "none", "выкл", "нет"})


def budget_(ctx: Context, amount: str | None) -> None:
    """/budget shows the month's progress; /budget 500 sets it; /budget off removes it."""
    prefs = common.prefs(ctx)
    view = View(ctx.t, prefs)
    if amount is not None and amount.lower() in OFF_WORDS:
        preferences.set_budget(prefs, None, ctx.now())
        ctx.audit("budget_changed", "settings", prefs.id, {"monthly_budget": None})
        ctx.reply(ctx.t("budget.removed"))
        return
    if amount is not None:
        try:
            budget, currency = money.parse_money(amount, prefs.currency, ctx.lang)
        except money.AmountError as error:
            key = "budget.too_large" if error.code == "too_large" else f"error.amount.{error.code}"  # no expense
            ctx.reply(ctx.t(key, **error.params))
            return
        if currency != prefs.currency:
            ctx.reply(ctx.t("budget.currency_mismatch", currency=prefs.currency))
            return
        preferences.set_budget(prefs, budget, ctx.now())
        ctx.audit("budget_changed", "settings", prefs.id, {"monthly_budget": format(budget, "f")})
        ctx.reply(ctx.t("budget.set", budget=view.money(budget, currency), threshold=prefs.budget_alert_threshold))
    progress = budget_progress(ctx.user, prefs, common.today(prefs, ctx))
    if progress is None:
        ctx.reply(ctx.t("budget.none"))
        return
    ctx.reply(ctx.t("budget.title", month=view.span(progress.start, progress.end)) + "\n" + view.progress(progress))
