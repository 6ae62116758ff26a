"""/hello, /morning and the two-step /nickname conversation."""
from __future__ import annotations

from typing import Any

from framework import SKIP, Button, CallbackData, Context, Conversation

from .models import Greeting

MAX_NICKNAME = 64


class NicknameAnswer(CallbackData, prefix="nick"):
    """The Yes/No buttons under "Call you …?"; only the user who asked can press them."""

    yes: bool


nickname_conversation = Conversation("nickname", states={
    "AWAITING_NICKNAME": ["AWAITING_CONFIRMATION"],
    "AWAITING_CONFIRMATION": ["AWAITING_NICKNAME"],
}, command="nickname", help="help_nickname", callbacks=[NicknameAnswer])


def _greeting(ctx: Context) -> Greeting:
    row, _ = Greeting.get_or_create(user=ctx.user.id, defaults={"updated_at": ctx.now()})
    return row


def hello(ctx: Context) -> None:
    row = _greeting(ctx)
    Greeting.update(count=Greeting.count + 1, updated_at=ctx.now()).where(Greeting.id == row.id).execute()
    name = row.nickname or ctx.user.first_name or ctx.user.username or "friend"
    ctx.reply(ctx.t("greeting", emoji=ctx.settings["greeting_emoji"], name=name, count=row.count + 1))


def morning(ctx: Context, switch: bool) -> None:
    """/morning on|off: ``switch`` is already a bool, the core answered anything else with the usage line."""
    row = _greeting(ctx)
    row.morning = switch
    row.save()
    ctx.reply(ctx.t("morning_on" if row.morning else "morning_off", hour=ctx.settings["morning_hour"]))


@nickname_conversation.entry
def nickname(ctx: Context) -> None:
    ctx.session.goto("AWAITING_NICKNAME")
    ctx.reply(ctx.t("ask_nickname"))


@nickname_conversation.state("AWAITING_NICKNAME")
def on_nickname(ctx: Context) -> Any:
    if ctx.callback_data is not None:
        return SKIP  # an old Yes/No pressed while a new nickname is awaited: the core says it is stale
    text = ctx.text.strip()
    if not text or len(text) > MAX_NICKNAME:
        ctx.reply(ctx.t("bad_nickname", max=MAX_NICKNAME))
        return None
    ctx.session.goto("AWAITING_CONFIRMATION", nickname=text)
    ctx.reply(ctx.t("confirm_nickname", nickname=text),
              buttons=[[Button(ctx.t("answer_yes"), NicknameAnswer(yes=True)),
                        Button(ctx.t("answer_no"), NicknameAnswer(yes=False))]])
    return None


@nickname_conversation.state("AWAITING_CONFIRMATION")
def on_confirmation(ctx: Context) -> None:
    answer = ctx.callback_data
    if not isinstance(answer, NicknameAnswer):
        ctx.reply(ctx.t("use_buttons"))
    elif answer.yes:
        row = _greeting(ctx)
        row.nickname = ctx.session.data["nickname"]
        row.save()
        ctx.audit("nickname_set", "greeting", row.id, {"nickname": row.nickname})
        ctx.session.end()
        ctx.edit(ctx.t("nickname_saved", nickname=row.nickname))
    else:
        ctx.session.goto("AWAITING_NICKNAME")
        ctx.edit(ctx.t("ask_nickname"))
