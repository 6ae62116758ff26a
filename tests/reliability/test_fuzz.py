"""1. Bad input: hypothesis throws malformed and hostile updates at a bot with the expenses and
hello plugins, from several users, and checks that nothing crashes, every reply fits in a
Telegram message, and the stored data still makes sense afterwards.

A *victim* user stores expenses first and then stays silent; the fuzzed users forge callback
data naming the victim's expense ids. The victim's rows must come out unchanged.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("hypothesis", reason="property tests need hypothesis (pip install plugbot[dev])")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_helpers import app_invariants, utf16_len

from framework.callbacks import pack_owner
from framework.db import connection_scope
from plugins.expenses.models import Expense

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
BATCH = 10  # updates per hypothesis example
ERROR_TEXT = "Something went wrong"

COMMANDS = ("/start", "/help", "/cancel", "/language", "/add", "/list", "/undo", "/stats", "/export",
            "/categories", "/budget", "/recurring", "/settings", "/rate", "/hello", "/nickname", "/morning",
            "/mydata", "/deleteme", "/jobs", "/plugins", "/nosuchcommand", "/add@plugbot_test_bot",
            "/stats@some_other_bot", "/", "//", "/ADD", "/categories add", "/categories rename",
            "/categories archive", "/recurring add", "/recurring pause", "/settings currency", "/settings timezone",
            "/settings week_start", "/budget off", "/rate USD")
SPEND_WORDS = ("coffee", "lunch", "taxi", "pizza", "кофе", "обед", "groceries", "bus", "rent")
NUMBERS = ("0", "-5", "-0", "0.001", "5", "12.50", "8,90", "1e309", "NaN", "inf", "1,000,000.99", "9" * 40,
           "999999999999", "1000000000", "1000000000.01", "$5", "5$", "€3", "350₽", "5 eur", "5 xyz", "0x1F",
           "١٢٣", "５", "½", "12.345", "1 000", "-1e-9")
INJECTIONS = ("'; DROP TABLE expenses; --", "1' OR '1'='1", "\"; DELETE FROM users; --", "%s %(x)s ? :1 $1",
              "Robert'); DROP TABLE users;--", "{0} {{}} ${x}", "<script>alert(1)</script>", "\\'\\\"",
              "admin'--", "' UNION SELECT telegram_id FROM users --")
# Valid traffic mixed in, so the hostile updates meet users with expenses, dialogues and buttons.
PLAUSIBLE = ("coffee 5", "lunch 12.50", "taxi 7", "/add", "/add 9.99", "12", "Food", "Transport", "a note",
             "/list", "/undo", "/stats", "/stats week", "/cancel", "/budget 500", "/settings", "/categories",
             "/recurring add 10 rent monthly 1", "/recurring", "/nickname", "Bob", "/hello", "/language ru",
             "/language en", "/export", "/rate USD EUR 0.9", "/settings currency EUR", "/settings currency USD")
CONTENT = ("photo", "document", "sticker", "voice", "video", "audio", "animation", "video_note", "location",
           "contact", "poll", "dice", "venue")

Maker = Callable[[Any, Any], dict[str, Any]]

unicode_text = st.text(max_size=60)
texts = st.one_of(
    unicode_text,
    st.sampled_from(("", " ", "\n", "\t\t", "\u200b", "\u0000", "🙂" * 3, "\U0001F600" * 2100, "x" * 4097)),
    st.builds(lambda s, n: (s or "ab") * n, st.text(max_size=8), st.integers(300, 3000)),   # huge
    st.builds(lambda w, n: f"{w} {n}", st.one_of(st.sampled_from(SPEND_WORDS), unicode_text),
              st.one_of(st.sampled_from(NUMBERS), st.integers().map(str),
                        st.floats(allow_nan=True, allow_infinity=True).map(str))),           # quick-add-like
    st.builds(lambda c, a: f"{c} {a}", st.sampled_from(COMMANDS), st.one_of(unicode_text, st.sampled_from(NUMBERS),
                                                                              st.sampled_from(INJECTIONS))),
    st.sampled_from(COMMANDS),
    st.sampled_from(PLAUSIBLE), st.sampled_from(PLAUSIBLE),
    st.builds(lambda w, i, n: f"{w} {i} {n}", st.sampled_from(SPEND_WORDS), st.sampled_from(INJECTIONS),
              st.sampled_from(NUMBERS)),
)


def _message(bot: Any, user: Any, fields: dict[str, Any], *, edited: bool = False,
             group: bool = False) -> dict[str, Any]:
    chat = {"id": -100000 - user.id, "type": "supergroup", "title": "Fuzz group"} if group else user.chat
    message = {"message_id": bot.next_message_id(), "date": bot.timestamp(), "chat": chat, "from": user.profile,
               **fields}
    text = fields.get("text")
    if isinstance(text, str) and text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0]) if text.split() else 1}]
    return {"update_id": bot.next_update_id(), ("edited_message" if edited else "message"): message}


def text_update(text: str, edited: bool, group: bool) -> Maker:
    return lambda bot, user: _message(bot, user, {"text": text}, edited=edited, group=group)


def media_update(kind: str, caption: str | None) -> Maker:
    bodies: dict[str, Any] = {
        "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
        "document": {"file_id": "d", "file_unique_id": "d"}, "sticker": {"file_id": "s", "file_unique_id": "s",
                                                                        "type": "regular", "width": 1, "height": 1,
                                                                        "is_animated": False, "is_video": False},
        "voice": {"file_id": "v", "file_unique_id": "v", "duration": 1},
        "video": {"file_id": "v", "file_unique_id": "v", "width": 1, "height": 1, "duration": 1},
        "audio": {"file_id": "a", "file_unique_id": "a", "duration": 1},
        "animation": {"file_id": "a", "file_unique_id": "a", "width": 1, "height": 1, "duration": 1},
        "video_note": {"file_id": "n", "file_unique_id": "n", "length": 1, "duration": 1},
        "location": {"latitude": 55.75, "longitude": 37.61}, "contact": {"phone_number": "+100", "first_name": "C"},
        "poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
                 "is_anonymous": True, "type": "regular", "allows_multiple_answers": False},
        "dice": {"emoji": "🎲", "value": 3},
        "venue": {"location": {"latitude": 1.0, "longitude": 2.0}, "title": "T", "address": "A"},
    }

    def make(bot: Any, user: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {kind: bodies[kind]}
        if caption is not None:
            fields["caption"] = caption
        return _message(bot, user, fields)

    return make


def callback_update(data: str | None, with_message: bool) -> Maker:
    def make(bot: Any, user: Any) -> dict[str, Any]:
        uid = bot.next_update_id()
        query: dict[str, Any] = {"id": str(uid), "from": user.profile, "chat_instance": "1"}
        if data is not None:  # "{me}" stands for the presser's own id, as the owner field of button data
            query["data"] = data.replace("{me}", pack_owner(user.id))
        if with_message:
            query["message"] = {"message_id": bot.next_message_id(), "date": bot.timestamp(), "chat": user.chat,
                                "text": "old"}
        return {"update_id": uid, "callback_query": query}

    return make


def odd_update(kind: str) -> Maker:
    def make(bot: Any, user: Any) -> dict[str, Any]:
        uid = bot.next_update_id()
        bodies = {
            "inline_query": {"id": "1", "from": user.profile, "query": "x", "offset": ""},
            "channel_post": {"message_id": 1, "date": bot.timestamp(), "chat": {"id": -1001, "type": "channel"},
                             "text": "/stats"},
            "my_chat_member": {"chat": user.chat, "from": user.profile, "date": bot.timestamp(),
                               "old_chat_member": {"status": "member", "user": user.profile},
                               "new_chat_member": {"status": "kicked", "user": user.profile, "until_date": 0}},
            "poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
                     "is_anonymous": True, "type": "regular", "allows_multiple_answers": False},
            "something_new": {"weird": True},
        }
        if kind == "no_sender":
            return {"update_id": uid, "message": {"message_id": 1, "date": bot.timestamp(), "chat": user.chat,
                                                  "text": "hi"}}
        if kind == "no_chat":
            return {"update_id": uid, "message": {"message_id": 1, "date": bot.timestamp(), "from": user.profile,
                                                  "text": "hi"}}
        if kind == "text_not_string":
            return {"update_id": uid, "message": {"message_id": 1, "date": bot.timestamp(), "chat": user.chat,
                                                  "from": user.profile, "text": 12345}}
        if kind == "no_update_id":
            return {"message": {"text": "hi"}}
        return {"update_id": uid, kind: bodies[kind]}

    return make


def forged_data(victim_ids: list[int]) -> st.SearchStrategy[str]:
    """Button data in the core's format (``prefix:owner:fields``) with hostile fields. The owner is
    mostly the presser ("{me}": past the core's owner check, so the plugin's own checks are fuzzed),
    sometimes the victim or garbage."""
    ids = st.one_of(st.sampled_from(victim_ids), st.integers(-5, 10**6).map(str), unicode_text,
                    st.sampled_from(("0", "-1", "1e3", "9" * 30, "", "NaN", "1;DROP TABLE expenses", "²", "١٢",
                                     "1 ", " 1", "+1")))
    owners = st.sampled_from(("{me}", "{me}", "{me}", pack_owner(VICTIM), "zz", "", "-1", "ZZ"))
    periods = st.sampled_from(("month", "week", "x", "2024", "today", "bogus", "", "0001-01-01", "9999-12",
                               "0001-01-01..0001-02-01", "2025-03-01..2025-03-31"))
    return st.one_of(
        st.builds(lambda o, a, i: f"{a}:{o}:{i}", owners, st.sampled_from(("exu", "exr", "exe", "x")), ids),
        st.builds(lambda o, i, c: f"exc:{o}:{i}:{c}", owners, ids, ids),
        st.builds(lambda o, i, p, s: f"exd:{o}:{i}:{p}:{s}", owners, ids, ids, periods),
        st.builds(lambda o, p, s: f"exl:{o}:{p}:{s}", owners, ids, periods),
        st.builds(lambda o, v, i: f"exs:{o}:{v}:{i}", owners, st.sampled_from(("t", "d", "x", "")), ids),
        st.builds(lambda o, a: f"{a.split(':')[0]}:{o}:{a.partition(':')[2]}", owners,
                  st.sampled_from(("add:ok", "add:edit", "add:cancel", "add:skip", "add:back", "add:x", "addc:1",
                                   "addc:x", "addf:amount", "addf:note", "addf:date", "addf:category", "addf:zz",
                                   "addd:2024-02-30", "addd:1999-01-01", "addd:0001-01-01", "addd:x"))),
        st.builds(lambda o, x: f"lang:{o}:{x}", owners, st.sampled_from(("en", "ru", "xx", ""))),
        st.builds(lambda o, x: f"{x}".replace("{o}", o), owners,
                  st.sampled_from(("nick:{o}:1", "nick:{o}:0", "deleteme:{o}:0", "consent:{o}:1", "consent:{o}:0",
                                   "exu", "exu:", "::", ":", "a" * 200))),
        unicode_text,
    )


def updates(victim_ids: list[str]) -> st.SearchStrategy[Maker]:
    return st.one_of(
        st.builds(text_update, texts, st.booleans(), st.booleans()),
        st.builds(text_update, texts, st.just(False), st.just(False)),  # private text weighs more
        st.builds(media_update, st.sampled_from(CONTENT), st.one_of(st.none(), texts)),
        st.builds(callback_update, st.one_of(st.none(), forged_data(victim_ids)), st.booleans()),
        st.builds(odd_update, st.sampled_from(("inline_query", "channel_post", "my_chat_member", "poll",
                                               "something_new", "no_sender", "no_chat", "text_not_string",
                                               "no_update_id"))),
    )


def _victim_rows() -> list[tuple[Any, ...]]:
    with connection_scope():
        return [(e.id, str(e.amount), e.currency, e.category_id, e.note, e.is_deleted, e.expense_date)
                for e in Expense.select().join_from(Expense, Expense.user.rel_model)
                .where(Expense.user.rel_model.telegram_id == VICTIM).order_by(Expense.id)]


VICTIM = 9000
FUZZERS = (1001, 1002, 1003, 1004, 1005)


def run_fuzz(bot: Any, caplog: pytest.LogCaptureFixture, total: int, seed: int) -> dict[str, Any]:
    victim = bot.user(VICTIM, first_name="Victim")
    for text in ("coffee 5", "taxi 12.50", "lunch 8"):
        victim.send(text)
    before = _victim_rows()
    assert len(before) == 3, before
    victim_ids = [str(row[0]) for row in before]
    users = [bot.user(tid, first_name=f"Fuzz{tid}", language_code=lang)
             for tid, lang in zip(FUZZERS, ("en", "ru", "de", None, "en-US"), strict=True)]
    stats: dict[str, Any] = {"sent": 0, "oversized": [], "errors_replied": 0, "replies": 0}

    @settings(max_examples=max(1, total // BATCH), deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(st.tuples(st.integers(0, len(users) - 1), updates(victim_ids)),
                          min_size=BATCH, max_size=BATCH))
    def one_batch(batch: list[tuple[int, Maker]]) -> None:
        for index, make in batch:
            update = make(bot, users[index])
            replies = bot.process(update)
            stats["sent"] += 1
            stats["replies"] += len(replies)
            for reply in replies:
                text = reply.text or ""
                limit = CAPTION_LIMIT if reply.method in ("send_photo", "send_document") else MESSAGE_LIMIT
                if utf16_len(text) > limit:
                    stats["oversized"].append((reply.method, utf16_len(text)))
                if ERROR_TEXT in text:
                    stats["errors_replied"] += 1

    one_batch()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or "failed" in r.getMessage()]
    after = _victim_rows()
    problems = app_invariants(bot.app)
    with connection_scope():
        stats["stored"] = Expense.select().count() - len(after)
    return {**stats, "failures": failures, "victim_changed": before != after, "invariants": problems,
            "before": before, "after": after}


def _check(result: dict[str, Any], ledger: Any, case: str) -> None:
    failures = (len(result["failures"]) + len(result["oversized"]) + result["errors_replied"]
                + len(result["invariants"]) + int(result["victim_changed"]))
    ledger.record(case, sent=result["sent"], failures=failures,
                  lost=int(result["victim_changed"]),
                  note=f"{result['replies']} replies, {result['stored']} expenses stored by fuzzers")
    messages = [f"{r.levelname} {r.name}: {r.getMessage()[:300]}" for r in result["failures"][:5]]
    assert not result["failures"], f"{len(result['failures'])} error records, e.g. {messages}"
    assert not result["oversized"], f"replies over Telegram's limits: {result['oversized'][:5]}"
    assert result["errors_replied"] == 0, "some updates were answered with the generic error text"
    assert not result["invariants"], result["invariants"]
    assert not result["victim_changed"], (result["before"], result["after"])


PLUGINS = {"expenses": {"charts": False}, "hello": {"module": "plugbot_hello"}}
CONFIG = {"ratelimit": {"messages_per_minute": 1_000_000}}


def test_fuzz_fast(bot_factory: Any, caplog: pytest.LogCaptureFixture, ledger: Any, full: bool) -> None:
    """A few hundred hostile updates on SQLite (the CI subset); 5,000 in the full run."""
    caplog.set_level(logging.WARNING)
    bot = bot_factory(plugins=PLUGINS, config=CONFIG)
    total = 5000 if full else 300
    _check(run_fuzz(bot, caplog, total, seed=1), ledger, f"fuzz sqlite ({total})")


@pytest.mark.slow
@pytest.mark.postgres
def test_fuzz_postgres(bot_factory: Any, caplog: pytest.LogCaptureFixture, ledger: Any) -> None:
    """The full run also fuzzes PostgreSQL, which refuses some input SQLite stores (NUL bytes)."""
    caplog.set_level(logging.WARNING)
    bot = bot_factory(plugins={**PLUGINS, "expenses": {"charts": True}}, database="postgres", config=CONFIG)
    _check(run_fuzz(bot, caplog, 1500, seed=2), ledger, "fuzz postgres (1500)")
