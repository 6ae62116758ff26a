"""Every admin command with an admin allowed to use it, an admin lacking its permission, and a
non-admin: the non-admin hears exactly what an unknown command gets, and neither refusal changes
or writes anything."""
from __future__ import annotations

from typing import Any

import pytest
from admin_helpers import (
    ALICE,
    KEYS,
    MANAGER,
    NOT_ALLOWED,
    SUPER,
    UNKNOWN,
    counts,
    make_bot,
    person,
    text,
    texts,
)

from framework import connection_scope
from framework.models import AccessList, AdminUser, AppSettings, PluginState, UserRestriction

# (what is sent, who may, an admin who may not (None: every admin may), does it change something)
COMMANDS = [
    ("/admin", SUPER, None, False),
    ("/user @bob", MANAGER, KEYS, True),
    ("/users", MANAGER, KEYS, False),
    ("/users bo", SUPER, KEYS, False),
    ("/ban @bob 12h spam", MANAGER, KEYS, True),
    ("/unban @bob", MANAGER, KEYS, False),
    ("/restrict @bob 30m flood", MANAGER, KEYS, True),
    ("/unrestrict @bob", MANAGER, KEYS, False),
    ("/grant @bob view_stats", SUPER, MANAGER, True),
    ("/revoke @keys", SUPER, MANAGER, True),
    ("/export_user @bob", MANAGER, KEYS, True),
    ("/whitelist add @bob friend", MANAGER, KEYS, True),
    ("/whitelist list", MANAGER, KEYS, False),
    ("/blacklist add -100123 spam group", MANAGER, KEYS, True),
    ("/access whitelist", MANAGER, KEYS, True),
    ("/llm", KEYS, MANAGER, False),
    ("/llm vendor openai", KEYS, MANAGER, True),
    ("/llm cache_ttl 12h", KEYS, MANAGER, True),
    ("/consent Our new terms", KEYS, MANAGER, True),
    ("/plugin disable hello", SUPER, MANAGER, True),
    ("/job run hello.morning", SUPER, KEYS, True),
    ("/audit", MANAGER, KEYS, False),
]


def state() -> tuple[Any, ...]:
    """Everything an admin command may change, to compare before and after a refused one."""
    with connection_scope():
        settings = AppSettings.get_or_none(AppSettings.id == 1)
        return (counts(),
                [(r.user_id, r.restriction_type, r.is_active) for r in UserRestriction.select()],
                [(r.entity_id, r.list_type) for r in AccessList.select()],
                [(r.user_id, r.can_manage_keys, r.can_manage_users, r.can_view_stats) for r in AdminUser.select()],
                settings and (settings.active_llm_vendor, settings.llm_config, settings.consent_text,
                              settings.access_mode),
                [(r.name, r.enabled) for r in PluginState.select()])


@pytest.mark.parametrize(("sent", "allowed", "lacking", "changes"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_each_admin_command_is_checked_on_every_call(bot_factory, monkeypatch, sent: str, allowed: int,
                                                     lacking: int | None, changes: bool) -> None:
    bot = make_bot(bot_factory, monkeypatch)
    command = sent.split()[0][1:]
    before = state()

    alice = person(bot, ALICE)
    assert texts(alice.send(sent)) == [UNKNOWN.format(command=command)]
    assert state() == before, "a non-admin's attempt changed or wrote something"
    if lacking is not None:
        assert texts(person(bot, lacking).send(sent)) == [NOT_ALLOWED]
        assert state() == before, "an admin lacking the permission changed or wrote something"

    replies = person(bot, allowed).send(sent)
    answer = text(replies) or (replies[0].filename if replies else "")
    assert answer and NOT_ALLOWED not in answer and "I don't know" not in answer, answer
    after = state()
    assert (after != before) == changes, f"{sent}: expected {'a' if changes else 'no'} change"
    if changes:   # every change, and every look at someone's data, leaves an audit row
        assert sum(after[0]) > sum(before[0]), f"{sent}: nothing audited"


def test_a_non_admin_gets_the_unknown_command_answer_word_for_word(bot: Any) -> None:
    alice = person(bot, ALICE)
    assert texts(alice.send("/ban @bob")) == [UNKNOWN.format(command="ban")]
    assert texts(alice.send("/nosuchthing")) == [UNKNOWN.format(command="nosuchthing")]
    in_group = alice.in_chat(-100555)
    assert in_group.send("/ban @bob") == in_group.send("/nosuchthing") == []   # a group hears nothing of either


def test_admin_commands_are_not_in_a_non_admins_help_or_menu(bot: Any) -> None:
    help_text = text(person(bot, ALICE).send("/help"))
    assert "/hello" in help_text
    for command in ("/admin", "/ban", "/user", "/llm", "/grant", "/plugin", "/audit", "/whitelist"):
        assert command not in help_text
    everyone = bot.telegram.menus[None]
    assert "hello" in everyone and not {"admin", "ban", "llm", "grant", "audit"} & set(everyone)
    assert ALICE not in bot.telegram.menus


def test_each_admin_gets_a_menu_of_what_their_permissions_allow(bot: Any) -> None:
    menus = bot.telegram.menus
    assert {"admin", "ban", "llm", "grant", "plugin", "audit", "hello"} <= set(menus[SUPER])
    assert {"admin", "ban", "user", "audit", "whitelist"} <= set(menus[MANAGER])
    assert not {"llm", "consent", "grant", "plugin"} & set(menus[MANAGER])
    assert {"admin", "llm", "consent"} <= set(menus[KEYS]) and not {"ban", "grant", "audit"} & set(menus[KEYS])
    manager_help = text(person(bot, MANAGER).send("/help"))
    assert "/ban" in manager_help and "/llm" not in manager_help
