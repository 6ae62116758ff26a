"""framework/origin.py: one answer to "who sent this update, in which chat", the same for a raw
update (the dispatcher's queue key) and a parsed one (the pipeline, the handler's ctx)."""
from __future__ import annotations

from typing import Any

import pytest
from telebot import types

from framework.origin import origin

ALICE = {"id": 7, "is_bot": False, "first_name": "Alice"}
GROUP = {"id": -100, "type": "group", "title": "G"}
PRIVATE = {"id": 7, "type": "private", "first_name": "Alice"}


def message(chat: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"message_id": 1, "date": 0, "chat": chat, "from": ALICE, "text": "hi", **extra}


CASES = [
    pytest.param({"message": message(GROUP)}, "message", -100, id="message in a group"),
    pytest.param({"edited_message": message(PRIVATE)}, "edited_message", 7, id="edited message"),
    pytest.param({"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -5, "type": "channel"}}},
                 "channel_post", -5, id="channel post (no sender)"),
    pytest.param({"callback_query": {"id": "1", "from": ALICE, "chat_instance": "c", "data": "x",
                                     "message": message(GROUP)}}, "callback_query", -100,
                 id="button under a group message"),
    pytest.param({"callback_query": {"id": "1", "from": ALICE, "chat_instance": "c", "data": "x",
                                     "inline_message_id": "m"}}, "callback_query", 7,
                 id="button under an inline message: the sender's chat"),
    pytest.param({"pre_checkout_query": {"id": "1", "from": ALICE, "currency": "XTR", "total_amount": 5,
                                         "invoice_payload": "p"}}, "pre_checkout_query", 7, id="payment query"),
]


@pytest.mark.parametrize(("body", "kind", "chat_id"), CASES)
def test_raw_and_parsed_updates_have_the_same_origin(body: dict[str, Any], kind: str, chat_id: int) -> None:
    raw = {"update_id": 1, **body}
    parsed = types.Update.de_json(raw)
    for update in (raw, parsed):
        found = origin(update)
        assert (found.kind, found.chat_id) == (kind, chat_id)
    sender = origin(parsed).sender
    assert (sender.id if sender is not None else None) == (7 if kind != "channel_post" else None)


@pytest.mark.parametrize("raw", [
    {"update_id": 1},
    {"update_id": 1, "message": "not an object"},
    {"update_id": 1, "message": {"chat": "nope", "from": ["x"]}},
    {"update_id": 1, "message": {"chat": {"id": True}}},
    {"update_id": 1, "callback_query": {"from": {"id": 3.5}, "message": []}},
], ids=["nothing", "message is a string", "chat is a string", "bool id", "float id"])
def test_a_forged_update_has_no_chat_and_never_raises(raw: dict[str, Any]) -> None:
    assert origin(raw).chat_id is None


def test_the_update_queue_keys_a_chat_by_its_origin() -> None:
    from framework.update_queue import NO_CHAT, chat_key

    button = {"update_id": 9, "callback_query": {"id": "1", "from": ALICE, "chat_instance": "c",
                                                 "message": message(GROUP)}}
    assert chat_key({"update_id": 8, "message": message(GROUP)}) == chat_key(button) == -100
    # No chat and no sender: a key of its own, so it waits behind nothing and holds up nothing.
    assert chat_key({"update_id": 3, "message": "forged"}) == NO_CHAT + 3
