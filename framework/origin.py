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


def _field(item: Any, name: str) -> Any:
    """``item.name`` of a parsed object or ``item["name"]`` of a raw dict; a raw value of the
    wrong shape (a forged update) reads as missing."""
    if isinstance(item, dict):
        value = item.get(name)
        return value if name == "id" or isinstance(value, dict) else None
    return getattr(item, "from_user" if name == "from" else name, None)
