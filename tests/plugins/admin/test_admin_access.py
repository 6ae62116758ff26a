"""Whitelist mode end to end, access lists of users and chats, and /access, with their audit rows."""
from __future__ import annotations

from typing import Any

from admin_helpers import ALICE, BOB, MANAGER, audit_rows, make_bot, pd_rows, person, text, texts, user

PRIVATE = "This bot is private."


def test_whitelist_mode_end_to_end(bot_factory, monkeypatch, backend) -> None:
    bot = make_bot(bot_factory, monkeypatch, backend)
    manager, alice, bob = person(bot, MANAGER), person(bot, ALICE), person(bot, BOB)
    assert text(manager.send("/access")).startswith("Access mode: open.")
    assert text(manager.send("/access whitelist")) == "Access mode is now whitelist."
    assert texts(alice.send("/hello")) == [PRIVATE]
    assert alice.send("/hello") == []                              # told once a day
    assert "Hello" in text(manager.send("/hello"))                 # admins are never locked out

    assert text(manager.send("/whitelist add @alice trusted tester")) == "user 5101 added to the whitelist."
    assert "Hello" in text(alice.send("/hello"))
    assert texts(bob.send("/hello")) == [PRIVATE]
    group = bob.in_chat(-100200300, "Team")
    assert text(manager.send("/whitelist add -100200300 our team chat")) == "chat -100200300 added to the whitelist."
    assert "Hello" in text(group.send("/hello"))                   # everyone in a whitelisted chat

    listing = text(manager.send("/whitelist list"))
    assert "The whitelist (2):" in listing and "user 5101 · trusted tester" in listing
    assert text(manager.send("/whitelist remove @alice")) == "user 5101 removed from the whitelist."
    assert alice.send("/hello") == []                              # the daily notice was already given
    assert text(manager.send("/access open")) == "Access mode is now open."
    assert "Hello" in text(alice.send("/hello"))

    [added, _, removed] = [r for r in audit_rows() if r.action.startswith("whitelist_")]
    assert (added.action, added.telegram_id, added.entity_id, added.details["reason"]) == (
        "whitelist_add", MANAGER, ALICE, "trusted tester")
    assert removed.action == "whitelist_remove"
    assert [(r.actor_id, r.target_user_id) for r in pd_rows("whitelist_add")] == [(user(MANAGER).id, user(ALICE).id)]
    modes = [row.details["access_mode"] for row in audit_rows("settings_changed")]
    assert modes == [[None, "whitelist"], ["whitelist", "open"]]


def test_blacklist_silences_a_user_and_a_chat(bot: Any) -> None:
    manager, bob = person(bot, MANAGER), person(bot, BOB)
    assert text(manager.send("/blacklist add @bob spam")) == "user 5102 added to the blacklist."
    assert text(manager.send("/blacklist add @bob")) == "user 5102 is already on the blacklist."
    assert bob.send("/hello") == []
    assert text(manager.send("/blacklist remove @bob")) == "user 5102 removed from the blacklist."
    assert text(manager.send("/blacklist remove @bob")) == "user 5102 is not on the blacklist."
    assert "Hello" in text(bob.send("/hello"))
    assert [r.action for r in audit_rows() if "blacklist" in r.action] == ["blacklist_add", "blacklist_remove"]
    assert "Say whom" in text(manager.send("/blacklist add"))
    assert text(manager.send("/blacklist list")) == "The blacklist is empty."
