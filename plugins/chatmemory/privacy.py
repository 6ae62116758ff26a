"""Whether a chat's memory is on, and whose messages it keeps: config lists, the chat admins'
switch and the users who opted out, read through one cached entry per chat."""
from __future__ import annotations

import datetime as dt
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


def chat_state(cache: Any, chat_id: int, chat_type: str, title: str | None, now: dt.datetime) -> dict[str, Any]:
    """``{"on": bool, "out": [user ids]}`` of the chat, creating its row on first sight.

    One cache read per message; the database only when the entry is missing.
    """
    def load() -> dict[str, Any]:
        chat = ChatRepository().get_or_create(chat_id, chat_type=chat_type, title=title, now=now)
        return {"on": bool(chat.memory_enabled and chat.migrated_to is None),
                "active": bool(chat.is_active), "out": OptOutRepository().users_of(chat_id)}

    return cache.get_or_set(chat_key(chat_id), load, ttl=CHAT_TTL)


def forget_chat(cache: Any, chat_id: int) -> None:
    cache.delete(chat_key(chat_id))
