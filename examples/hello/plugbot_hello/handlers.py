"""/hello, /morning and the two-step /nickname conversation."""
from __future__ import annotations

from framework import Button, Context, Conversation

from .models import Greeting

MAX_NICKNAME = 64

nickname_conversation = Conversation("nickname", states={
    "AWAITING_NICKNAME": ["AWAITING_CONFIRMATION"],
    "AWAITING_CONFIRMATION": ["AWAITING_NICKNAME"],
})


def _greeting(ctx: Context) -> Greeting:
    row, _ = Greeting.get_or_create(user=ctx.user.id, defaults={"updated_at": ctx.now()})
    return row


def hello(ctx: Context) -> None:
    row = _greeting(ctx)
    Greeting.update(count=Greeting.count + 1, updated_at=ctx.now()).where(Greeting.id == row.id).execute()
    name = row.nickname or ctx.user.first_name or ctx.user.username or "friend"
    ctx.reply(ctx.t("greeting", emoji=ctx.settings["greeting_emoji"], name=name, count=row.count + 1))


def morning(ctx: Context) -> None:
    wanted = ctx.args.lower()
    if wanted not in ("on", "off"):
        ctx.reply(ctx.t("morning_usage"))
        return
    row = _greeting(ctx)
    row.morning = wanted == "on"
    row.save()
    ctx.reply(ctx.t("morning_on" if row.morning else "morning_off", hour=ctx.settings["morning_hour"]))


def nickname(ctx: Context) -> None:
    ctx.session.goto("AWAITING_NICKNAME")
    ctx.reply(ctx.t("ask_nickname"))


@nickname_conversation.state("AWAITING_NICKNAME")
def on_nickname(ctx: Context) -> None:
    if ctx.callback is not None:
        ctx.answer(ctx.t("core.stale_button"))
        return
    text = ctx.text.strip()
    if not text or len(text) > MAX_NICKNAME:
        ctx.reply(ctx.t("bad_nickname", max=MAX_NICKNAME))
        return
    ctx.session.goto("AWAITING_CONFIRMATION", nickname=text)
    ctx.reply(ctx.t("confirm_nickname", nickname=text),
              buttons=[[Button(ctx.t("answer_yes"), "nickname:yes"), Button(ctx.t("answer_no"), "nickname:no")]])


@nickname_conversation.state("AWAITING_CONFIRMATION")
def on_confirmation(ctx: Context) -> None:
    if ctx.data == "nickname:yes":
        row = _greeting(ctx)
        row.nickname = ctx.session.data["nickname"]
        row.save()
        ctx.audit("nickname_set", "greeting", row.id, {"nickname": row.nickname})
        ctx.session.end()
        ctx.edit(ctx.t("nickname_saved", nickname=row.nickname))
    elif ctx.data == "nickname:no":
        ctx.session.goto("AWAITING_NICKNAME")
        ctx.edit(ctx.t("ask_nickname"))
    else:
        ctx.reply(ctx.t("use_buttons"))
