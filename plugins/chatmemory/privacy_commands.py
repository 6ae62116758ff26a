"""/memory on|off (chat admins), /forgetme in a group, /nostore as a reply."""
from __future__ import annotations

from framework import Context, arg

from . import privacy
from .repositories import ChatRepository, MessageRepository, OptOutRepository, SummaryRepository

MEMORY_ARGS = [arg.choice("switch", {"on": True, "off": False}, optional=True)]


def memory(ctx: Context, switch: bool | None) -> None:
    if ctx.chat_type == "private":
        ctx.reply(ctx.t("privacy.only_groups"))
        return
    if not privacy.configured(ctx.settings, ctx.chat_id):
        ctx.reply(ctx.t("privacy.not_configured"))
        return
    chat = ctx.chat
    row = ChatRepository().get_or_create(chat.id, chat_type=chat.type, title=getattr(chat, "title", None),
                                         now=ctx.now())
    if switch is None:
        ctx.reply(ctx.t("privacy.memory_status_on" if row.memory_enabled else "privacy.memory_status_off"))
        return
    status = ctx.chat_status()
    if status is None:
        ctx.reply(ctx.t("privacy.admin_check_failed"))
        return
    if status not in ("creator", "administrator"):
        ctx.reply(ctx.t("privacy.only_admins"))
        return
    ChatRepository().update(chat.id, ctx.now(), memory_enabled=switch)
    ctx.audit("chatmemory.memory_on" if switch else "chatmemory.memory_off", "chat", chat.id)
    privacy.forget_later(ctx, chat.id)
    ctx.reply(ctx.t("privacy.memory_on" if switch else "privacy.memory_off"))


def forgetme(ctx: Context) -> None:
    """Delete the user's messages in this chat (and the groups it was before) and keep none from now on."""
    if ctx.chat_type == "private":
        ctx.reply(ctx.t("privacy.only_groups"))
        return
    chat = ctx.chat
    chats = ChatRepository()
    chats.get_or_create(chat.id, chat_type=chat.type, title=getattr(chat, "title", None), now=ctx.now())
    lineage = chats.lineage(chat.id)
    count = MessageRepository().delete_of_user(ctx.user.id, lineage)
    OptOutRepository().add(lineage, ctx.user.id, ctx.now())
    SummaryRepository().drop_participant(lineage, ctx.user.id)
    ctx.audit("chatmemory.forgetme", "chat", chat.id, {"messages": count})
    privacy.forget_later(ctx, *lineage)
    ctx.reply(ctx.t("privacy.forgotme", count=count))


def nostore(ctx: Context) -> None:
    """Reply /nostore to one of your own messages: it is deleted from the chat's memory."""
    original = ctx.message.reply_to_message if ctx.message is not None else None
    if original is None:
        ctx.reply(ctx.t("privacy.nostore_usage"))
        return
    if original.from_user is None or original.from_user.id != ctx.telegram_id:
        ctx.reply(ctx.t("privacy.nostore_not_yours"))
        return
    removed = MessageRepository().delete_one(ctx.chat_id, original.message_id)
    ctx.reply(ctx.t("privacy.nostore_done" if removed else "privacy.nostore_unknown"))
