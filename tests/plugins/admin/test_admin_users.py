"""/user, /users, /ban (timed), /unban, /restrict, /grant, /revoke and /export_user through the
real pipeline, with the audit and pd_audit rows each one writes."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from admin_helpers import (
    ALICE,
    BOB,
    KEYS,
    MANAGER,
    SUPER,
    T0,
    UNKNOWN,
    audit_rows,
    make_bot,
    pd_rows,
    person,
    text,
    texts,
    user,
)

BANNED_UNTIL = "You are blocked from using this bot until {date} UTC."


def test_timed_ban_expires_on_its_own_and_is_audited(bot_factory, monkeypatch, backend) -> None:
    bot = make_bot(bot_factory, monkeypatch, backend)
    bob = person(bot, BOB)
    assert "Hello" in text(bob.send("/hello"))
    reply = text(person(bot, MANAGER).send("/ban @bob 30m spamming the group"))
    assert "Bob (@bob) is banned until 2025-05-05 12:30 UTC" in reply and "spamming the group" in reply
    assert texts(bob.send("/hello")) == [BANNED_UNTIL.format(date="2025-05-05 12:30")]
    assert bob.send("/hello") == []                           # one notice, then silence

    [row] = audit_rows("ban")
    assert (row.telegram_id, row.entity_type, row.entity_id) == (MANAGER, "user", BOB)
    assert row.details == {"reason": "spamming the group", "expires_at": (T0 + dt.timedelta(minutes=30)).isoformat()}
    [pd] = pd_rows("ban")
    assert (pd.actor_id, pd.target_user_id) == (user(MANAGER).id, user(BOB).id)

    bot.advance(minutes=31)
    assert "Hello" in text(bob.send("/hello"))                # no job needed: the expiry applies by itself


def test_permanent_ban_then_unban(bot: Any) -> None:
    bob, manager = person(bot, BOB), person(bot, MANAGER)
    assert "for good" in text(manager.send("/ban @bob"))
    assert texts(bob.send("/hello")) == ["You are blocked from using this bot."]
    assert text(manager.send("/unban @bob")) == "Bob (@bob) is no longer banned."
    assert "Hello" in text(bob.send("/hello"))
    assert text(manager.send("/unban @bob")) == "Bob (@bob) was not banned."
    assert [row.action for row in audit_rows() if row.action in ("ban", "unban")] == ["ban", "unban"]
    assert len(pd_rows("unban")) == 1                        # the no-op second unban wrote nothing


def test_admins_cannot_be_banned_and_bad_input_gets_the_usage_line(bot: Any) -> None:
    manager = person(bot, MANAGER)
    assert "cannot be banned" in text(manager.send("/ban @keys 1h"))
    assert audit_rows("ban") == []
    assert text(manager.send("/ban @nobody")).startswith("I don't know @nobody: they have to write to me first.")
    assert "Usage: /restrict" in text(manager.send("/restrict @bob"))


def test_restriction_slows_the_user_down_and_lifts(bot: Any) -> None:
    manager, bob = person(bot, MANAGER), person(bot, BOB)
    assert "restricted for 1h" in text(manager.send("/restrict @bob 1h flooding"))
    [row] = audit_rows("restrict")
    assert row.details["reason"] == "flooding" and row.details["expires_at"] == (T0 + dt.timedelta(hours=1)).isoformat()
    assert "Restricted until 2025-05-05 13:00 UTC: flooding" in text(manager.send("/user @bob"))
    assert text(manager.send("/unrestrict @bob")) == "Bob (@bob) is no longer restricted."
    assert "Restricted" not in text(manager.send("/user @bob"))
    assert "Hello" in text(bob.send("/hello"))


def test_user_profile_shows_status_role_and_what_plugins_know_and_is_logged(bot: Any) -> None:
    person(bot, BOB).send("/hello")
    person(bot, BOB).send("/hello")
    profile = text(person(bot, MANAGER).send("/user @bob"))
    assert f"User {BOB}: Bob (@bob)" in profile
    assert "Role: no admin role" in profile
    assert "hello: greetings 2" in profile
    assert "Role: manage_keys" in text(person(bot, MANAGER).send(f"/user {KEYS}"))
    assert "Role: superadmin" in text(person(bot, MANAGER).send("/user @boss"))
    views = pd_rows("view_profile")
    assert [(row.actor_id, row.target_user_id) for row in views][0] == (user(MANAGER).id, user(BOB).id)


def test_users_list_is_paginated_and_searchable(bot_factory, monkeypatch, backend) -> None:
    bot = make_bot(bot_factory, monkeypatch, backend,
                   plugins={"admin": {"page_size": 2}, "hello": {"module": "plugbot_hello"}})
    manager = person(bot, MANAGER)
    first = manager.send("/users")[0]
    assert first.text.startswith("Users, page 1:") and len(first.text.splitlines()) == 3
    assert first.button_texts == ["Next ▶️"]
    manager.press("Next ▶️")
    second = bot.telegram.messages[(MANAGER, first.message_id)]
    assert second.text.startswith("Users, page 2:") and second.button_texts == ["◀️ Previous", "Next ▶️"]
    found = text(manager.send("/users ali"))
    assert "Alice (@alice)" in found and "Bob" not in found
    assert text(manager.send("/users zzz")) == "No users found."
    # Someone else's press of that button, or a non-admin's forged one, reaches nothing.
    from plugins.admin.users import UsersPage

    assert texts(person(bot, ALICE).press(data=UsersPage(page=1))) == ["This button is no longer valid."]


def test_grant_and_revoke_keep_is_admin_menu_and_help_in_step(bot: Any) -> None:
    boss, bob = person(bot, SUPER), person(bot, BOB)
    assert texts(bob.send("/ban @alice")) == [UNKNOWN.format(command="ban")]
    assert text(boss.send("/grant @bob manage_users")) == "Bob (@bob) now has manage_users."
    assert user(BOB).is_admin is True
    assert {"ban", "user", "audit"} <= set(bot.telegram.menus[BOB]) and "llm" not in bot.telegram.menus[BOB]
    assert "/ban" in text(bob.send("/help"))
    assert "is banned" in text(bob.send("/ban @alice 1h"))
    assert texts(bob.send("/llm")) == ["You are not allowed to do that."]

    assert text(boss.send("/grant @bob manage_keys")) == "Bob (@bob) now has manage_keys."
    assert "llm" in bot.telegram.menus[BOB]
    assert text(boss.send("/revoke @bob manage_users")) == "Bob (@bob) no longer has manage_users."
    assert texts(bob.send("/unban @alice")) == ["You are not allowed to do that."]
    assert text(boss.send("/revoke @bob")) == "Bob (@bob) is no longer an admin."
    assert user(BOB).is_admin is False and BOB not in bot.telegram.menus
    assert texts(bob.send("/llm")) == [UNKNOWN.format(command="llm")]
    assert [row.action for row in audit_rows() if row.action in ("grant", "revoke")] == [
        "grant", "grant", "grant", "grant", "grant", "revoke"]   # two by the fixture, then four here
    assert [row.details["roles"] for row in audit_rows("grant")][-1] == {
        "can_manage_users": False, "can_view_stats": False, "can_manage_keys": True}
    assert "superadmin" in text(boss.send("/revoke @boss"))


def test_export_user_sends_their_mydata_document_and_logs_it(bot: Any) -> None:
    person(bot, BOB).send("/hello")
    [document] = [r for r in person(bot, MANAGER).send("/export_user @bob") if r.method == "send_document"]
    data = json.loads(document.document)
    assert document.filename == f"user-{BOB}.json"
    assert data["plugins"]["hello"] == {"greetings": 1, "nickname": None, "morning": False}
    assert "datarights" in data["plugins"]
    [row] = pd_rows("export_data")
    assert (row.actor_id, row.target_user_id) == (user(MANAGER).id, user(BOB).id)
