"""/broadcast: a superadmin's message to every user, previewed, confirmed, then delivered by
:mod:`.delivery` with live progress; ``/broadcast status`` and ``/broadcast cancel``."""
from __future__ import annotations

from typing import Any

import peewee

from framework import SKIP, Button, CallbackData, Context, User, arg

from .broadcast_models import ACTIVE, CANCELLED, DRAFT, PENDING, Broadcast, BroadcastRecipient
from .delivery import counts, recipients_query, report_text

MESSAGE_LIMIT = 4096  # one Telegram message, in UTF-16 code units; a broadcast is never split


class BroadcastAnswer(CallbackData, prefix="adbc"):
    broadcast: int
    send: bool


def register(register: Any) -> None:
    register.command("broadcast", broadcast, help="broadcast.help", permission="superadmin",
                     args=[arg.text("text", optional=True)])
    register.callback(BroadcastAnswer, on_answer)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def broadcast(ctx: Context, text: str | None) -> None:
    """``/broadcast <text>`` previews; ``status`` and ``cancel`` act on the current broadcast."""
    word = (text or "").strip().lower()
    if word == "status":
        return _status(ctx)
    if word == "cancel":
        return _cancel(ctx)
    if not word:
        ctx.reply(ctx.t("broadcast.usage"))
        return None
    if _utf16_length(text) > MESSAGE_LIMIT:
        ctx.reply(ctx.t("broadcast.too_long", limit=MESSAGE_LIMIT))
        return None
    draft = Broadcast.create(author=ctx.user.id, text=text, lang=ctx.lang, status=DRAFT, created_at=ctx.now())
    audience = recipients_query().count()
    ctx.audit("broadcast_drafted", "broadcast", draft.id, {"recipients": audience})
    ctx.reply(ctx.t("broadcast.preview", count=f"{audience:,}", text=text),
              buttons=[[Button(ctx.t("broadcast.confirm"), BroadcastAnswer(broadcast=draft.id, send=True)),
                        Button(ctx.t("broadcast.cancel"), BroadcastAnswer(broadcast=draft.id, send=False))]])
    return None


def on_answer(ctx: Context, data: BroadcastAnswer) -> object:
    """Confirm starts the delivery (the recipients fixed now, one row each); Cancel drops the draft."""
    if not ctx.can("superadmin"):
        return SKIP  # a superadmin no longer: the button is as good as gone
    draft = Broadcast.get_or_none((Broadcast.id == data.broadcast) & (Broadcast.author == ctx.user.id))
    if draft is None or draft.status != DRAFT:
        return SKIP
    if not data.send:
        Broadcast.update(status=CANCELLED, finished_at=ctx.now()).where(Broadcast.id == draft.id).execute()
        ctx.audit("broadcast_cancelled", "broadcast", draft.id)
        ctx.edit(ctx.t("broadcast.dropped"))
        return None
    if Broadcast.select().where(Broadcast.status == ACTIVE).exists():
        ctx.answer(ctx.t("broadcast.busy"), alert=True)
        return None
    rows = recipients_query().select(peewee.Value(draft.id), User.id, User.telegram_id, peewee.Value(PENDING))
    fields = [BroadcastRecipient.broadcast, BroadcastRecipient.user, BroadcastRecipient.telegram_id,
              BroadcastRecipient.status]
    total = BroadcastRecipient.insert_from(rows, fields=fields).as_rowcount().execute()
    message_id = ctx.callback.message.message_id if ctx.callback and ctx.callback.message else None
    (Broadcast.update(status=ACTIVE, total=total, started_at=ctx.now(), chat_id=ctx.chat_id, message_id=message_id)
     .where(Broadcast.id == draft.id).execute())
    ctx.audit("broadcast_started", "broadcast", draft.id, {"recipients": total})
    started = Broadcast.get_by_id(draft.id)
    ctx.edit(report_text(ctx.t, started, {}))
    return None


def _current() -> Broadcast | None:
    """The broadcast being sent, else the newest one."""
    return (Broadcast.select().where(Broadcast.status == ACTIVE).order_by(Broadcast.id).first()
            or Broadcast.select().where(Broadcast.status != DRAFT).order_by(Broadcast.id.desc()).first())


def _status(ctx: Context) -> None:
    current = _current()
    if current is None:
        ctx.reply(ctx.t("broadcast.none"))
        return
    ctx.reply(report_text(ctx.t, current, counts(current.id)))


def _cancel(ctx: Context) -> None:
    current = Broadcast.select().where(Broadcast.status == ACTIVE).order_by(Broadcast.id).first()
    if current is None:
        ctx.reply(ctx.t("broadcast.nothing_to_cancel"))
        return
    (Broadcast.update(status=CANCELLED, finished_at=ctx.now())
     .where((Broadcast.id == current.id) & (Broadcast.status == ACTIVE)).execute())
    ctx.audit("broadcast_cancelled", "broadcast", current.id)
    by_status = counts(current.id)
    ctx.reply(ctx.t("broadcast.cancelled", id=current.id, sent=f"{by_status.get('sent', 0):,}",
                    total=f"{current.total:,}"))
