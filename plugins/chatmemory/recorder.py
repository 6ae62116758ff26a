"""Recording what the bot sees: messages (text, captions, the kind of media), their edits, the
bot's own messages, and the chat's metadata (title, members, migration, the bot leaving)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from framework import Context, Plugin, SentMessage

from . import privacy
from .repositories import ChatRepository, MessageRepository

# Service messages that change the chat rather than say something.
SERVICE = frozenset({"new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo",
                     "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
                     "channel_chat_created", "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message"})

messages = MessageRepository()
chats = ChatRepository()


def observe(ctx: Context) -> None:
    """The observer: every message, edit and change of the bot's membership."""
    kind = ctx.origin.kind
    if kind == "my_chat_member":
        _membership(ctx)
    elif kind == "edited_message":
        _edited(ctx)
    elif kind == "message" and ctx.message is not None:
        if ctx.message.content_type in SERVICE:
            _service(ctx)
        else:
            _message(ctx)


def _enabled(ctx: Context) -> dict[str, Any] | None:
    """The chat's state when its memory keeps this user's messages, else None."""
    chat = ctx.chat
    if chat is None or not privacy.configured(ctx.settings, chat.id):
        return None
    state = privacy.chat_state(ctx, chat.id, chat.type, getattr(chat, "title", None))
    if not state["on"] or ctx.user.id in state["out"]:
        return None
    return state


def content_of(message: Any) -> tuple[str, str]:
    """(content, content_type): the text or caption, and Telegram's name for what was sent."""
    text = message.text or message.caption or ""
    return text, message.content_type or "text"


def author_of(tg_user: Any) -> str:
    name = " ".join(part for part in (tg_user.first_name, tg_user.last_name) if part)
    return (name or tg_user.username or str(tg_user.id))[:255]


def _message(ctx: Context) -> None:
    message = ctx.message
    content, content_type = content_of(message)
    marker = str(ctx.settings.get("nostore_marker") or "")
    if marker and content.lstrip().startswith(marker):
        return
    if _enabled(ctx) is None:
        return
    reply = message.reply_to_message.message_id if message.reply_to_message is not None else None
    messages.add(chat_id=ctx.chat_id, telegram_message_id=message.message_id, user_id=ctx.user.id,
                 author=author_of(message.from_user), content=content, content_type=content_type,
                 reply_to_message_id=reply, thread_id=ctx.thread_id,
                 created_at=dt.datetime.fromtimestamp(message.date, dt.UTC))


def _edited(ctx: Context) -> None:
    message = ctx.message
    if _enabled(ctx) is None:
        return
    content, _ = content_of(message)
    stamp = dt.datetime.fromtimestamp(message.edit_date or message.date, dt.UTC)
    marker = str(ctx.settings.get("nostore_marker") or "")
    if marker and content.lstrip().startswith(marker):
        messages.delete_one(ctx.chat_id, message.message_id)  # marked after the fact: forget it
        return
    messages.edit(ctx.chat_id, message.message_id, content, stamp)


def _service(ctx: Context) -> None:
    message, chat, now = ctx.message, ctx.chat, ctx.now()
    if not privacy.configured(ctx.settings, chat.id):
        return
    chats.get_or_create(chat.id, chat_type=chat.type, title=getattr(chat, "title", None), now=now)
    kind = message.content_type
    if kind == "new_chat_title":
        chats.update(chat.id, now, title=message.new_chat_title[:255])
    elif kind == "migrate_to_chat_id":
        chats.migrate(chat.id, message.migrate_to_chat_id, now, title=getattr(chat, "title", None))
        privacy.forget_later(ctx, message.migrate_to_chat_id)
    elif kind == "migrate_from_chat_id":
        chats.migrate(message.migrate_from_chat_id, chat.id, now, title=getattr(chat, "title", None))
        privacy.forget_later(ctx, message.migrate_from_chat_id)
    elif kind in ("new_chat_members", "left_chat_member"):
        # The bot's own arrival and departure come as my_chat_member updates (see _membership).
        joined = len(message.new_chat_members or []) if kind == "new_chat_members" else -1
        _count_members(chat.id, joined, now)
    privacy.forget_later(ctx, chat.id)


def _count_members(chat_id: int, change: int, now: dt.datetime) -> None:
    chat = chats.get(chat_id)
    if chat is not None and chat.member_count is not None:
        chats.update(chat_id, now, member_count=max(chat.member_count + change, 0))


def _membership(ctx: Context) -> None:
    """The bot was added to a chat, or left or was removed from it."""
    update, now = ctx.update.my_chat_member, ctx.now()
    chat = update.chat
    chats.get_or_create(chat.id, chat_type=chat.type, title=getattr(chat, "title", None), now=now)
    active = update.new_chat_member.status not in ("left", "kicked")
    fields: dict[str, Any] = {"is_active": active}
    if active and chat.type != "private":
        count = ctx.member_count()  # once, when the bot joins; service messages keep it current
        if count is not None:
            fields["member_count"] = count
    chats.update(chat.id, now, **fields)
    privacy.forget_later(ctx, chat.id)


def sent(message: SentMessage, plugin: Plugin) -> None:
    """``plugbot_message_sent``: the bot's own messages, in chats whose memory is on."""
    chat_id = message.chat_id
    if not isinstance(chat_id, int) or not privacy.configured(plugin.settings, chat_id):
        return
    if message.edited:
        messages.edit(chat_id, message.message_id, message.text, plugin.now())
        return
    state = plugin.cache.get(privacy.chat_key(chat_id))
    if state is None:
        chat = chats.get(chat_id)
        if chat is None:
            return  # the bot never starts a chat's memory with its own message
        state = {"on": chat.memory_enabled and chat.migrated_to is None}
    if not state["on"]:
        return
    messages.add(chat_id=chat_id, telegram_message_id=message.message_id, content=message.text,
                 content_type="text" if message.content_type == "message" else message.content_type,
                 reply_to_message_id=message.reply_to_message_id, thread_id=message.thread_id,
                 is_bot_message=True, created_at=plugin.now())
