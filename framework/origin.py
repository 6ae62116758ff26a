"""Who sent an update and which chat it belongs to.

One answer for every part that asks: the dispatcher (a chat's updates wait in one queue, so
they keep their order), the pipeline (whom an update serves) and the handler's context (where
a reply goes). It reads a raw update, as Telegram sent it, or a parsed
``telebot.types.Update`` alike, and never raises on a malformed one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Kinds of update that happen in a chat, and kinds that are a user's query (a button press,
# a payment) whose chat, if any, is that of the message they came from.
IN_A_CHAT = ("message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member", "chat_member")
QUERIES = ("callback_query", "pre_checkout_query", "shipping_query", "inline_query")


@dataclass(frozen=True)
class Origin:
    """Where an update comes from; ``sender`` and ``chat`` are dicts or telebot objects, like the update."""

    kind: str | None  # "message", "callback_query"...; None when the update has nothing plugbot reads
    sender: Any = None
    chat: Any = None

    @property
    def chat_id(self) -> int | str | None:
        """The chat to answer in: the update's chat, else the sender's private chat."""
        for source in (self.chat, self.sender):
            if source is not None:
                value = _field(source, "id")
                return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None
        return None


def origin(update: Any) -> Origin:
    """The :class:`Origin` of a raw (dict) or parsed update."""
    for kind in IN_A_CHAT:
        body = _field(update, kind)
        if body is not None:
            return Origin(kind, _field(body, "from"), _field(body, "chat"))
    for kind in QUERIES:
        body = _field(update, kind)
        if body is not None:
            message = _field(body, "message")
            return Origin(kind, _field(body, "from"), _field(message, "chat") if message is not None else None)
    return Origin(None)


ID_RANGE = range(-2**63, 2**63)
"""Telegram's ids are 64-bit signed integers; anything else in an id is forged."""


def malformed(update: Any) -> str | None:
    """What is wrong with a raw update no Telegram server would send, or None: an ``update_id``
    that is not an integer (JSON ``true`` included), a sender or chat id that is not a 64-bit
    integer. Checked before anything stores an id, so a forgery is refused, not apologised for."""
    if not isinstance(update, dict):
        return "not a JSON object"
    update_id = update.get("update_id")
    if type(update_id) is not int or update_id not in ID_RANGE:
        return "update_id is not an integer"
    source = origin(update)
    for what, item in (("sender", source.sender), ("chat", source.chat)):
        if item is None:
            continue
        value = item.get("id")
        if type(value) is not int or value not in ID_RANGE:
            return f"the {what} id is not a 64-bit integer"
    return None


def _field(item: Any, name: str) -> Any:
    """``item.name`` of a parsed object or ``item["name"]`` of a raw dict; a raw value of the
    wrong shape (a forged update) reads as missing."""
    if isinstance(item, dict):
        value = item.get(name)
        return value if name == "id" or isinstance(value, dict) else None
    return getattr(item, "from_user" if name == "from" else name, None)
