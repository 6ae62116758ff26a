"""What admins change at runtime, through the core APIs every plugin can use: app settings and
plugin switches seen by every process, audited access changes, ``users.is_admin`` in step with
roles, admins' own command menus, and the ``plugbot_user_info`` hook."""
from __future__ import annotations

import datetime as dt

import pytest
from plugins_for_tests import HELLO, PROBE, build, restart, texts
from plugins_for_tests.probe import events

from framework import User, connection_scope
from framework.models import AppSettings, AuditLog, PdAuditLog, PluginState

ALICE, BOB, ADMIN = 1201, 1202, 1299
T0 = dt.datetime(2025, 4, 1, 9, 0, tzinfo=dt.UTC)


def _user(telegram_id: int) -> User:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id)


def _audit(action: str) -> list[AuditLog]:
    with connection_scope():
        return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def _pd(action: str) -> list[PdAuditLog]:
    with connection_scope():
        return list(PdAuditLog.select().where(PdAuditLog.action == action).order_by(PdAuditLog.id))


# -- app settings at runtime ----------------------------------------------------------------------


def test_settings_change_is_audited_masked_and_applies_at_once_here(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, admins=(ADMIN,))
    bot.set_time(T0)
    bot.user(ADMIN).send("/hello")
    runtime = bot.app.runtime
    with connection_scope():
        changed = runtime.update_settings(actor=_user(ADMIN), active_llm_vendor="openai",
                                          llm_config={"openai": {"model": "gpt-4o-mini", "api_key": "sk-abcdef123456789"}})
        assert runtime.update_settings(actor=_user(ADMIN), active_llm_vendor="openai") == {}   # no change, no row
    assert changed["active_llm_vendor"] == ["local", "openai"]
    assert runtime.settings()["active_llm_vendor"] == "openai"
    assert bot.app.llm.active_vendor() == "openai"
    [row] = _audit("settings_changed")
    assert row.telegram_id == ADMIN and row.entity_type == "app_settings"
    assert "sk-abcdef" not in str(row.details)
    assert row.details["llm_config"][1]["openai"] == {"model": "gpt-4o-mini", "api_key": "••••6789"}
    with pytest.raises(ValueError, match="not an app setting"):
        runtime.update_settings(actor=None, colour="red")
    with pytest.raises(ValueError, match="access_mode must be"):
        runtime.update_settings(actor=None, access_mode="closed")


def test_a_change_made_by_another_process_applies_within_the_refresh_interval(bot_factory, monkeypatch,
                                                                              backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(T0)
    alice = bot.user(ALICE)
    assert "Hello" in texts(alice.send("/hello"))[0]
    with connection_scope():   # another process (or an operator's SQL) switches the bot to whitelist mode
        AppSettings.update(access_mode="whitelist").where(AppSettings.id == 1).execute()
    bot.advance(seconds=2)
    assert "Hello" in texts(alice.send("/hello"))[0]          # this process read the settings 2 s ago
    bot.advance(seconds=4)
    assert texts(alice.send("/hello")) == ["This bot is private."]
    with connection_scope():
        AppSettings.update(access_mode=None).where(AppSettings.id == 1).execute()   # back to the config's
    bot.advance(seconds=6)
    assert "Hello" in texts(alice.send("/hello"))[0]


def test_a_new_consent_text_asks_users_who_agreed_before_again(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config={"consent": {"required": True}})
    bot.set_time(T0)
    alice = bot.user(ALICE)
    alice.send("/hello")
    alice.press("I agree")
    assert "Hello" in texts(alice.send("/hello"))[0]
    bot.advance(minutes=1)
    with connection_scope():
        bot.app.runtime.update_settings(actor=None, consent_text="New terms, version 2. Agree?")
    [prompt] = alice.send("/hello")
    assert prompt.text == "New terms, version 2. Agree?" and prompt.button_texts == ["I agree", "No, thanks"]
    bot.advance(minutes=1)
    alice.press("I agree")
    assert "Hello" in texts(alice.send("/hello"))[0]


# -- plugin switches -------------------------------------------------------------------------------


def test_plugin_switched_off_stops_answering_and_its_jobs_then_on_again_and_after_a_restart(
        bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE, HELLO, admins=(ADMIN,))
    alice = bot.user(ALICE)
    assert texts(alice.send("/write")) and len(events("write", ALICE)) == 1
    bot.run_job("probe.tick")
    ticks = len(events("tick"))
    assert ticks == 1

    with connection_scope():
        bot.app.runtime.switch_plugin("probe", False, actor=_user(ALICE))
    assert texts(alice.send("/write")) == ["I don't know /write. See /help."]
    assert "/write" not in texts(alice.send("/help"))[0] and "/hello" in texts(alice.send("/help"))[0]
    assert "probe.tick" not in {info.id for info in bot.app.scheduler.jobs()}
    bot.run_job("probe.tick")
    assert len(events("write", ALICE)) == 1 and len(events("tick")) == ticks
    assert "Hello" in texts(alice.send("/hello"))[0]          # the other plugins carry on
    [row] = _audit("plugin_disabled")
    assert row.details == {"plugin": "probe"} and row.telegram_id == ALICE

    second = restart(bot_factory, bot, monkeypatch, PROBE, HELLO, admins=(ADMIN,))   # the choice survives
    assert second.app.plugins.plugins["probe"].status == "off"
    assert texts(second.user(ALICE).send("/write")) == ["I don't know /write. See /help."]
    assert "probe.tick" not in {info.id for info in second.app.scheduler.jobs()}

    with connection_scope():
        second.app.runtime.switch_plugin("probe", True, actor=None)
    assert texts(second.user(ALICE).send("/write"))
    assert len(events("write", ALICE)) == 2
    assert "probe.tick" in {info.id for info in second.app.scheduler.jobs()}
    second.run_job("probe.tick")
    assert len(events("tick")) == ticks + 1


def test_a_switch_made_in_another_process_reaches_this_one(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    bot.set_time(T0)
    alice = bot.user(ALICE)
    assert texts(alice.send("/write"))
    with connection_scope():   # what another process's switch_plugin leaves in the database
        PluginState.update(enabled=False).where(PluginState.name == "probe").execute()
    bot.advance(seconds=6)
    assert texts(alice.send("/write")) == ["I don't know /write. See /help."]
    assert bot.app.plugins.plugins["probe"].status == "off"
    with connection_scope():
        PluginState.update(enabled=None).where(PluginState.name == "probe").execute()   # back to the config
    bot.advance(seconds=6)
    assert texts(alice.send("/write"))


def test_a_config_disabled_plugin_stays_off_until_an_admin_chooses_and_follows_the_config_after_a_reset(
        bot_factory, monkeypatch) -> None:
    bot = build(bot_factory, "memory", monkeypatch, PROBE, {"hello": {"module": "plugbot_hello", "enabled": False}})
    runtime, alice = bot.app.runtime, bot.user(ALICE)
    runtime.switch_plugin("probe", False, actor=None)   # another plugin's choice leaves it as the config says
    assert texts(alice.send("/hello")) == ["I don't know /hello. See /help."]
    runtime.switch_plugin("hello", True, actor=None)
    assert "Hello" in texts(alice.send("/hello"))[0]
    runtime.switch_plugin("hello", None, actor=None)    # the admin's choice withdrawn: the config again
    assert texts(alice.send("/hello")) == ["I don't know /hello. See /help."]
    assert bot.app.plugins.plugins["hello"].status == "off"


def test_builtins_and_unloaded_plugins_cannot_be_switched(bot_factory, monkeypatch) -> None:
    bot = build(bot_factory, "memory", monkeypatch, HELLO, {"ghost": {"module": "no_such_package.plugin",
                                                                       "enabled": False}})
    plugins = bot.app.plugins
    assert plugins.plugins["ghost"].status == "disabled"   # the config disables it and it cannot be imported
    assert not plugins.switchable("core") and not plugins.switchable("ghost") and plugins.switchable("hello")
    assert not plugins.switchable("probe")                 # not in the config at all
    assert plugins.switch("core", False) is False and plugins.plugins["core"].status == "enabled"


# -- access changes: audited, users.is_admin in step, admins' own menus ---------------------------


def test_every_access_change_is_audited_with_actor_target_reason_and_expiry(bot_factory, monkeypatch,
                                                                            backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, admins=(ADMIN,))
    bot.set_time(T0)
    bot.user(ADMIN).send("/hello")
    bot.user(ALICE).send("/hello")
    access = bot.app.access
    until = T0 + dt.timedelta(hours=12)
    with connection_scope():
        admin, alice = _user(ADMIN), _user(ALICE)
        access.ban(alice, actor=admin, reason="spam", until=until)
        access.unban(alice, actor=admin, reason="appeal")
        access.restrict(alice, by=ADMIN, reason="flood")
        access.unrestrict(alice, actor=admin)
        access.add_to_list(ALICE, "user", "whitelist", actor=admin, reason="friend")
        access.add_to_list(-100777, "chat", "blacklist", actor=admin, reason="spam group")
        access.remove_from_list(ALICE, "user", "whitelist", actor=admin)
        access.grant(alice, actor=admin, can_view_stats=True, can_manage_users=False)
        access.revoke(alice, actor=admin, reason="left the team")
    expected = {"ban": {"reason": "spam", "expires_at": until.isoformat()},
                "unban": {"reason": "appeal", "lifted": 1},
                "restrict": {"reason": "flood", "expires_at": None},
                "unrestrict": {"reason": None, "lifted": 1},
                "whitelist_add": {"entity_id": ALICE, "entity_type": "user", "reason": "friend"},
                "whitelist_remove": {"entity_id": ALICE, "entity_type": "user", "reason": None},
                "grant": {"roles": {"can_manage_users": False, "can_view_stats": True, "can_manage_keys": False},
                          "reason": None},
                "revoke": {"reason": "left the team"}}
    for action, details in expected.items():
        [row] = _audit(action)
        assert (row.telegram_id, row.entity_type, row.entity_id, row.details) == (ADMIN, "user", ALICE, details)
        [pd] = _pd(action)
        assert (pd.actor_id, pd.target_user_id, pd.details) == (admin.id, alice.id, details)
    [chat] = _audit("blacklist_add")
    assert (chat.entity_type, chat.entity_id, chat.details["reason"]) == ("access_list", -100777, "spam group")
    assert _pd("blacklist_add") == []                          # a chat is no person


def test_users_is_admin_follows_roles_and_admins_get_their_own_menu(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, PROBE, admins=(ADMIN,))
    menus = bot.telegram.menus
    assert "manage" not in menus[None] and "jobs" not in menus[None]          # everyone's menu
    assert {"jobs", "plugins", "hello"} <= set(menus[ADMIN])                 # a superadmin's, set at startup
    alice = bot.user(ALICE)
    alice.send("/hello")
    with connection_scope():
        bot.app.access.grant(_user(ALICE), can_manage_users=False, can_view_stats=True)
    assert _user(ALICE).is_admin is True
    assert {"jobs", "plugins", "hello"} <= set(menus[ALICE])
    bot.advance(minutes=2)
    alice.send("/hello")                                       # a profile refresh keeps the flag
    assert _user(ALICE).is_admin is True
    with connection_scope():
        bot.app.access.revoke(_user(ALICE))
    assert _user(ALICE).is_admin is False and ALICE not in menus
    bot.advance(minutes=2)
    alice.send("/hello")
    assert _user(ALICE).is_admin is False

    second = restart(bot_factory, bot, monkeypatch, HELLO, PROBE, admins=(ADMIN,))
    with connection_scope():
        second.app.access.grant(_user(ALICE), can_manage_users=True)
    third = restart(bot_factory, second, monkeypatch, HELLO, PROBE, admins=(ADMIN,))
    assert "jobs" in third.telegram.menus[ALICE]               # admin_users rows get theirs at startup


# -- the plugbot_user_info hook ---------------------------------------------------------------------


def test_hook_plugbot_user_info_reports_what_each_plugin_knows(bot_factory, monkeypatch) -> None:
    bot = build(bot_factory, "memory", monkeypatch, HELLO)
    bot.user(ALICE).send("/hello")
    bot.user(ALICE).send("/hello")
    bot.user(BOB).send("/help")
    with connection_scope():
        alice = dict(bot.app.plugins.call_each("plugbot_user_info", user=_user(ALICE)))
        bob = dict(bot.app.plugins.call_each("plugbot_user_info", user=_user(BOB)))
    assert alice["hello"] == {"greetings": 2, "nickname": "—", "morning greeting": False}
    assert bob.get("hello") is None


# -- what admin views read: both audit trails, masked keys, the admins' LLM cache TTL --------------


def test_audit_recent_merges_both_trails_newest_first_and_filters(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, admins=(ADMIN,))
    bot.set_time(T0)
    for telegram_id in (ADMIN, ALICE, BOB):
        bot.user(telegram_id).send("/hello")
    access = bot.app.access
    with connection_scope():
        admin, alice, bob = _user(ADMIN), _user(ALICE), _user(BOB)
        access.ban(alice, actor=admin, reason="spam")
        bot.advance(minutes=1)
        access.ban(bob, actor=admin, reason="flood")
        bot.advance(minutes=1)
        bot.app.audit.log("note", user=bob, plugin="hello")
        everything = bot.app.audit.recent(limit=10)
        alices = bot.app.audit.recent(target=alice)
        bans = bot.app.audit.recent(action="ban", limit=2)
        second_page = bot.app.audit.recent(action="ban", limit=2, offset=2)
    assert [(e["trail"], e["action"]) for e in everything[:5]] == [
        ("audit", "note"), ("pd", "ban"), ("audit", "ban"), ("pd", "ban"), ("audit", "ban")]
    assert everything[1] == {"trail": "pd", "at": T0 + dt.timedelta(minutes=1), "action": "ban", "actor": ADMIN,
                             "target": BOB, "plugin": None, "details": {"reason": "flood", "expires_at": None}}
    assert {(e["trail"], e["target"]) for e in alices} == {("audit", ALICE), ("pd", ALICE)}
    assert [e["target"] for e in bans] == [BOB, BOB] and [e["target"] for e in second_page] == [ALICE, ALICE]


def test_llm_keys_are_shown_masked_and_the_admins_cache_ttl_wins(bot_factory, monkeypatch) -> None:
    from framework.llm import LlmSettings

    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789abcdWXYZ")
    monkeypatch.setenv("YANDEX_API_KEY", "short")
    bot = build(bot_factory, "memory", monkeypatch, HELLO)
    llm = bot.app.llm
    assert llm.key_status() == {"openai": "••••WXYZ", "proxiapi": "—", "yandex": "••••", "yandex_folder_id": "—"}
    assert llm.cache_ttl_for(LlmSettings(config={"cache_ttl": 600})) == 600
    assert llm.cache_ttl_for(LlmSettings(config={"cache_ttl": "nonsense"})) == llm.cache_ttl
    assert llm.cache_ttl_for(LlmSettings()) == bot.app.config["llm"]["cache_ttl"]


def test_plugin_send_messages_a_private_chat_with_that_users_buttons(bot_factory, monkeypatch) -> None:
    from framework import Button
    from framework.builtins.core import LanguageChoice

    bot = build(bot_factory, "memory", monkeypatch, HELLO)
    bot.app.plugins.plugins["core"].handle.send(ALICE, "pick one", [[Button("English", LanguageChoice(code="en"))]])
    [sent] = [call for call in bot.telegram.calls if call.text == "pick one"]
    assert sent.chat_id == ALICE and sent.button_texts == ["English"]
    bot.user(ALICE).press("English")
    assert bot.telegram.messages[(ALICE, sent.message_id)].text == "Done, I will speak English with you now."
    assert texts(bot.user(BOB).press(data=LanguageChoice(code="en"), owner=ALICE)) == ["This button is not for you."]
