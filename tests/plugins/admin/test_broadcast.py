"""/broadcast end to end: preview, confirm, delivery to every active user with one row each,
403s marking who blocked the bot, a 429 pausing everything, a restart mid-broadcast resuming
without sending anyone the message twice, /broadcast status and cancel, and no reveal."""
from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from broadcast_helpers import SUPERADMIN, Telegram, add_users, received

from framework import User, connection_scope
from framework.testing import eventually
from plugins.admin.broadcast import BroadcastAnswer
from plugins.admin.broadcast_models import BotBlocked, Broadcast, BroadcastRecipient
from plugins.admin.delivery import Delivery

TEXT = "Maintenance tonight at 23:00 UTC."


def _broadcast() -> Broadcast:
    with connection_scope():
        return Broadcast.select().order_by(Broadcast.id.desc()).first()


def _statuses(broadcast_id: int) -> dict[int, str]:
    with connection_scope():
        return {row.telegram_id: row.status for row in
                BroadcastRecipient.select().where(BroadcastRecipient.broadcast == broadcast_id)}


def _finished() -> bool:
    row = _broadcast()
    return row is not None and row.status in ("done", "cancelled")


def answer(user: Any, text: str) -> Any:
    """The bot's answer to ``text``, leaving out what the sending thread does meanwhile (the broadcast
    itself, progress edits)."""
    [reply] = [r for r in user.send(text)
               if r.chat_id == user.id and r.method == "send_message" and r.text != TEXT]
    return reply


def _start(bot: Any, text: str = TEXT) -> tuple[Any, Any]:
    admin = bot.user(SUPERADMIN)
    return admin, answer(admin, f"/broadcast {text}")


def test_broadcast_reaches_every_user_once_and_marks_who_blocked_the_bot(make_bot) -> None:
    bot = make_bot()
    users = add_users(1, 300)
    blocked = set(users[::10])                                   # 30 of them blocked the bot
    telegram = Telegram(bot, TEXT, blocked=blocked)
    admin, preview = _start(bot)
    assert preview.text == f"This goes to 301 users:\n\n{TEXT}"  # the 300 and the admin
    assert preview.button_texts == ["✅ Send", "✖️ Cancel"]
    assert received(bot, TEXT) == {}                             # nothing leaves before Confirm

    progress = next(r for r in admin.press("Send") if r.method == "edit_message_text")
    assert (progress.method, progress.text) == ("edit_message_text", "📣 Broadcast #1: 0/301 sent…")
    assert eventually(_finished, timeout=60)

    got = received(bot, TEXT)
    assert set(got) == (set(users) | {SUPERADMIN}) - blocked and set(got.values()) == {1}
    statuses = _statuses(_broadcast().id)
    assert len(statuses) == 301                                  # one row per recipient
    assert {statuses[u] for u in blocked} == {"blocked"} and list(statuses.values()).count("sent") == 271
    with connection_scope():
        assert {row.user.telegram_id for row in BotBlocked.select()} == blocked
    final = bot.telegram.messages[(SUPERADMIN, preview.message_id)].text
    assert final == "📣 Broadcast #1 done: 271 delivered, 30 blocked the bot, 0 failed (of 301)."
    edits = [c.text for c in bot.telegram.calls if c.method == "edit_message_text"]
    assert any("/301 sent" in text and not text.startswith("📣 Broadcast #1: 0/") for text in edits)
    assert telegram.attempts == 301

    # Who blocked the bot is left out of the next broadcast, until they write again.
    bot.user(users[0]).send("/start")
    preview = answer(admin, "/broadcast Second")
    assert preview.text.startswith("This goes to 272 users:")


def test_a_429_pauses_the_whole_broadcast_for_retry_after(make_bot) -> None:
    bot = make_bot()
    users = add_users(1, 40)
    telegram = Telegram(bot, TEXT, flood_at=10, retry_after=1.0)
    admin, _ = _start(bot)
    admin.press("Send")
    assert eventually(_finished, timeout=60)
    assert set(received(bot, TEXT)) == set(users) | {SUPERADMIN}
    assert set(received(bot, TEXT).values()) == {1}              # the refused one was sent once, later
    moments = telegram.moments
    flood = next(i for i, (_, what) in enumerate(moments) if what == "429")
    assert moments[flood + 1][0] - moments[flood][0] >= 1.0      # nothing at all went out meanwhile
    assert _broadcast().pauses == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the simulated death
def test_a_restart_mid_broadcast_resumes_and_nobody_gets_it_twice(make_bot, db_url) -> None:
    bot = make_bot()
    users = add_users(1, 300)
    blocked = set(users[::25])
    Telegram(bot, TEXT, blocked=blocked, die_at=120)             # the process dies sending the 120th
    admin, preview = _start(bot)
    admin.press("Send")
    assert eventually(lambda: "sending" in _statuses(_broadcast().id).values(), timeout=30)
    assert eventually(lambda: not any(t.name.endswith("-broadcast") and t.is_alive()
                                      for t in threading.enumerate()), timeout=30)
    first = received(bot, TEXT)
    bot.app.stop()

    again = make_bot()                                           # the next process, on the same database
    Telegram(again, TEXT, blocked=blocked)
    again.set_time(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))   # the dead process's lease ran out
    assert eventually(_finished, timeout=60)
    second = received(again, TEXT)
    assert not set(first) & set(second)                          # nobody twice
    assert set(first.values()) == set(second.values()) == {1}
    statuses = _statuses(_broadcast().id)
    interrupted = [u for u, status in statuses.items() if status == "failed"]
    assert len(interrupted) == 1                                 # the message in flight is not sent again
    assert set(first) | set(second) | set(interrupted) | blocked == set(users) | {SUPERADMIN}
    final = again.telegram.calls[-1]
    assert (final.method, final.message_id) == ("edit_message_text", preview.message_id)
    assert final.text == (f"📣 Broadcast #1 done: {len(first) + len(second)} delivered, {len(blocked)} blocked "
                          "the bot, 1 failed (of 301).")


def test_a_stopped_bot_hands_the_broadcast_over_at_once(make_bot) -> None:
    bot = make_bot()
    users = add_users(1, 120)
    telegram = Telegram(bot, TEXT, delay=0.01)
    admin, _ = _start(bot)
    admin.press("Send")
    assert eventually(lambda: telegram.attempts >= 30, timeout=30)
    bot.app.stop()                                               # a deploy: SIGTERM, not a crash
    first = received(bot, TEXT)

    again = make_bot()
    Telegram(again, TEXT)
    assert eventually(_finished, timeout=60)                     # no lease to wait out
    second = received(again, TEXT)
    assert not set(first) & set(second)
    assert set(first) | set(second) == set(users) | {SUPERADMIN}
    assert "failed" not in _statuses(_broadcast().id).values()


def test_with_two_processes_one_sends_and_nobody_gets_it_twice(make_bot) -> None:
    bot = make_bot()
    users = add_users(1, 300)
    telegram = Telegram(bot, TEXT, delay=0.002)
    other = Delivery(bot.app.plugins.plugins["admin"].handle)    # a second process's sender, same database
    other.start()
    try:
        admin, _ = _start(bot)
        admin.press("Send")
        assert eventually(_finished, timeout=60)
    finally:
        other.stop()
    got = received(bot, TEXT)
    assert set(got) == set(users) | {SUPERADMIN} and set(got.values()) == {1}
    assert telegram.attempts == 301


def test_status_and_cancel(make_bot) -> None:
    bot = make_bot()
    add_users(1, 200)
    admin = bot.user(SUPERADMIN)
    assert admin.send("/broadcast status")[0].text == "No broadcast yet."
    assert admin.send("/broadcast cancel")[0].text == "No broadcast is being sent."
    telegram = Telegram(bot, TEXT, delay=0.02)
    _, preview = _start(bot)
    admin.press("Send")
    assert eventually(lambda: telegram.attempts >= 5, timeout=30)
    status = answer(admin, "/broadcast status").text
    assert status.startswith("📣 Broadcast #1: ") and status.endswith("/201 sent…")
    cancelled = answer(admin, "/broadcast cancel")
    assert cancelled.text.startswith("Broadcast #1 cancelled after ")
    assert eventually(lambda: bot.telegram.messages[(SUPERADMIN, preview.message_id)].text.startswith(
        "📣 Broadcast #1 cancelled:"), timeout=30)
    sent = telegram.attempts
    assert sent < 201
    with connection_scope():
        assert BroadcastRecipient.select().where(BroadcastRecipient.status == "pending").count() > 0
    assert telegram.attempts == sent                             # nothing more leaves
    assert answer(admin, "/broadcast status").text.startswith("📣 Broadcast #1 cancelled:")


def test_cancel_on_the_preview_sends_nothing(make_bot) -> None:
    bot = make_bot()
    add_users(1, 5)
    admin, _ = _start(bot)
    [dropped] = admin.press("Cancel")
    assert dropped.text == "Broadcast cancelled; nobody got it."
    assert _broadcast().status == "cancelled"
    assert received(bot, TEXT) == {}
    assert admin.press(data=BroadcastAnswer(broadcast=1, send=True))[0].text == "This button is no longer valid."


def test_non_admins_learn_nothing_and_change_nothing(make_bot) -> None:
    bot = make_bot()
    alice = bot.user(5)
    assert [r.text for r in alice.send(f"/broadcast {TEXT}")] == ["I don't know /broadcast. See /help."]
    assert [r.text for r in alice.send("/broadcast status")] == ["I don't know /broadcast. See /help."]
    assert "/broadcast" not in alice.send("/help")[0].text
    stats_admin = bot.user(6)
    stats_admin.send("/start")
    with connection_scope():
        bot.app.access.grant(User.get(User.telegram_id == 6), can_view_stats=True)
    assert [r.text for r in stats_admin.send(f"/broadcast {TEXT}")] == ["You are not allowed to do that."]
    # A forged Confirm of someone else's draft is refused before any handler runs.
    _start(bot)
    assert alice.press(data=BroadcastAnswer(broadcast=1, send=True), owner=SUPERADMIN)[0].text == \
        "This button is not for you."
    assert _broadcast().status == "draft"
    assert received(bot, TEXT) == {}


def test_a_broadcast_is_one_message(make_bot) -> None:
    bot = make_bot()
    admin = bot.user(SUPERADMIN)
    assert admin.send("/broadcast " + "x" * 4097)[0].text == "A broadcast is one message: at most 4096 characters."
    assert admin.send("/broadcast")[0].text.startswith("/broadcast <text> previews")
    assert _broadcast() is None


def test_what_a_user_got_is_in_their_data_and_leaves_with_them(make_bot) -> None:
    bot = make_bot()
    alice, bob = bot.user(4), bot.user(5)
    alice.send("/start")
    bob.send("/start")
    Telegram(bot, TEXT, blocked={5})
    admin, _ = _start(bot)
    admin.press("Send")
    assert eventually(_finished, timeout=30)
    [document] = [r for r in alice.send("/mydata") if r.method == "send_document"]
    mine = json.loads(document.document)["plugins"]["admin"]
    assert [b["status"] for b in mine["broadcasts"]] == ["sent"] and mine["blocked_the_bot_at"] is None
    bob.send("/deleteme")
    bob.press("Yes, delete everything")
    with connection_scope():
        assert BroadcastRecipient.select().where(BroadcastRecipient.telegram_id == 5).count() == 0
        assert BotBlocked.select().count() == 0


@pytest.mark.skipif(not hasattr(User, "notifications_enabled"),
                    reason="users.notifications_enabled is not in the core yet")
def test_a_user_who_muted_notifications_gets_no_broadcast(make_bot) -> None:
    bot = make_bot()
    users = add_users(1, 10)
    with connection_scope():
        User.update(notifications_enabled=False).where(User.telegram_id.in_(users[:3])).execute()
    Telegram(bot, TEXT)
    admin, preview = _start(bot)
    assert preview.text.startswith("This goes to 8 users:")     # 7 and the admin
    admin.press("Send")
    assert eventually(_finished, timeout=30)
    assert set(received(bot, TEXT)) == set(users[3:]) | {SUPERADMIN}


def test_a_429_during_a_broadcast_pauses_the_other_processes_too(bot_factory, db_url, redis_url,
                                                                  redis_prefix) -> None:
    from framework.redisconn import connect_redis
    from framework.sender import Sender

    bot = bot_factory({"admin": {"broadcast_per_second": 30}}, db_url=db_url, admins=(SUPERADMIN,), redis=True)
    add_users(1, 40)
    telegram = Telegram(bot, TEXT, flood_at=10, retry_after=30.0)
    admin, _ = _start(bot)
    admin.press("Send")
    assert eventually(lambda: any(what == "429" for _, what in telegram.moments), timeout=30)
    # Another process of the same bot (its sender on the same Redis prefix) replies to someone meanwhile.
    waited: list[float] = []
    other = Sender(bot.telegram, redis=connect_redis(redis_url), redis_prefix=redis_prefix, sleep=waited.append)
    other.call("send_message", chat_id=5, text="a reply in another process")
    assert len(waited) == 1 and 5 < waited[0] <= 30  # it waits out the rest of Telegram's retry_after (30 s), not a pacing gap
    assert [what for _, what in telegram.moments].count("sent") == 9  # and so does the broadcast
