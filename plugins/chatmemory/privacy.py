"""Whether a chat's memory is on, and whose messages it keeps: config lists, the chat admins'
switch and the users who opted out, read through one cached entry per chat."""
from __future__ import annotations

from typing import Any

from .repositories import ChatRepository, OptOutRepository

CHAT_TTL = 600  # seconds; every change below drops the entry after its commit


def configured(settings: dict[str, Any], chat_id: int) -> bool:
    """May this chat have a memory at all, as the operator configured it?"""
    enabled = {int(c) for c in settings.get("enabled_chats") or []}
    disabled = {int(c) for c in settings.get("disabled_chats") or []}
    if chat_id in disabled:
        return False
    if chat_id > 0:
        return bool(settings.get("private_chats", True))
    return not enabled or chat_id in enabled


def chat_key(chat_id: int) -> str:
    return f"chat:{chat_id}"


def chat_state(ctx: Any, chat_id: int, chat_type: str, title: str | None) -> dict[str, Any]:
    """``{"on": bool, "out": [user ids]}`` of the chat, creating its row on first sight.

    One cache read per message; the database only when the entry is missing. A state read from
    the database is cached once the update committed: a row created here and rolled back (the
    observer failed) must not be taken for existing by the chat's next message.
    """
    key, cache = chat_key(chat_id), ctx.cache  # this plugin's cache: ctx serves another plugin after the commit
    state = cache.get(key)
    if state is None:
        chat = ChatRepository().get_or_create(chat_id, chat_type=chat_type, title=title, now=ctx.now())
        state = {"on": bool(chat.memory_enabled and chat.migrated_to is None),
                 "out": OptOutRepository().users_of(chat_id)}
        ctx.after_commit(lambda: cache.set(key, state, ttl=CHAT_TTL))
    return state


def forget_later(ctx: Any, *chat_ids: int) -> None:
    """Drop the chats' cached states once the update committed (what changed them is then visible)."""
    cache = ctx.cache  # this plugin's cache: after the commit ctx may serve another plugin
    ctx.after_commit(lambda: [cache.delete(chat_key(chat_id)) for chat_id in chat_ids])
