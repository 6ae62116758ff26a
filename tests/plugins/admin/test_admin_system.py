"""/plugin (switching at runtime, in every process, surviving a restart; resuming a pause),
/jobs and /job run, /audit (both trails, filtered, paginated) and the /admin menu."""
from __future__ import annotations

import itertools
from typing import Any

from admin_helpers import ALICE, BOB, KEYS, MANAGER, SUPER, UNKNOWN, audit_rows, make_bot, person, text, texts

from framework import connection_scope
from framework.models import PluginState


def _restart(bot_factory: Any, bot: Any, monkeypatch: Any) -> Any:
    """A second bot on the same database and Redis prefix: a restart, or another process."""
    config = bot.app.config
    kwargs: dict[str, Any] = {"db_url": config["database"]["url"]}
    if config["redis"]["url"]:
        kwargs.update(redis=True, redis_prefix=config["redis"]["prefix"])
    second = make_bot(bot_factory, monkeypatch, **kwargs)
    second._update_ids = itertools.count(next(bot._update_ids) + 10_000)
    return second


def test_plugin_disabled_at_runtime_stops_answering_and_its_jobs_then_comes_back_and_survives_a_restart(
        bot_factory, monkeypatch, backend) -> None:
    bot = make_bot(bot_factory, monkeypatch, backend)
    boss, alice = person(bot, SUPER), person(bot, ALICE)
    assert "Hello" in text(alice.send("/hello"))
    assert "hello.morning" in {info.id for info in bot.app.scheduler.jobs()}

    assert text(boss.send("/plugin disable hello")).startswith("Plugin hello is switched off in every process")
    assert texts(alice.send("/hello")) == [UNKNOWN.format(command="hello")]
    assert "/hello" not in text(alice.send("/help"))
    assert "hello.morning" not in {info.id for info in bot.app.scheduler.jobs()}
    assert text(boss.send("/plugin disable hello")) == "Plugin hello is already off."
    assert text(boss.send("/job run hello.morning")).startswith("No job hello.morning.")

    second = _restart(bot_factory, bot, monkeypatch)          # the choice is kept in the database
    assert texts(person(second, ALICE).send("/hello")) == [UNKNOWN.format(command="hello")]
    assert "hello.morning" not in {info.id for info in second.app.scheduler.jobs()}
    assert "hello" not in second.telegram.menus[None]

    assert text(person(second, SUPER).send("/plugin enable hello")) == "Plugin hello is switched on in every process."
    assert "greeting #2" in text(person(second, ALICE).send("/hello"))
    assert "hello.morning" in {info.id for info in second.app.scheduler.jobs()}
    assert [row.action for row in audit_rows() if row.action.startswith("plugin_")] == [
        "plugin_disabled", "plugin_enabled"]


def test_a_switch_made_in_another_process_is_followed_within_seconds(bot: Any) -> None:
    alice = person(bot, ALICE)
    with connection_scope():   # what /plugin disable in another process leaves behind
        PluginState.update(enabled=False).where(PluginState.name == "hello").execute()
    bot.advance(seconds=6)
    assert texts(alice.send("/hello")) == [UNKNOWN.format(command="hello")]
    assert bot.app.runtime.plugin_statuses()["hello"] == "off"


def test_plugin_command_refuses_built_ins_unknown_and_plugins_that_could_not_load(bot_factory, monkeypatch) -> None:
    bot = make_bot(bot_factory, monkeypatch, plugins={"admin": {}, "hello": {"module": "plugbot_hello"},
                                                      "ghost": {"module": "no_such_package.plugin", "enabled": False}})
    boss = person(bot, SUPER)
    assert "cannot be switched" in text(boss.send("/plugin disable core"))
    assert "cannot be switched" in text(boss.send("/plugin enable ghost"))   # disabled and not importable
    assert text(boss.send("/plugin disable nothing")).startswith("No plugin nothing.")
    assert text(boss.send("/plugin resume hello")) == "Plugin hello is not paused."
    assert [row.action for row in audit_rows() if row.action.startswith("plugin_")] == []


CONFIG_OFF = {"admin": {}, "hello": {"module": "plugbot_hello", "enabled": False}}


def test_a_plugin_the_config_disables_is_switched_on_by_an_admin_and_the_choice_survives_a_restart(
        bot_factory, monkeypatch, backend) -> None:
    bot = make_bot(bot_factory, monkeypatch, backend, plugins=CONFIG_OFF)
    boss, alice = person(bot, SUPER), person(bot, ALICE)
    assert texts(alice.send("/hello")) == [UNKNOWN.format(command="hello")]   # loaded, but off
    assert "hello.morning" not in {info.id for info in bot.app.scheduler.jobs()}
    assert "hello 1.0.0 [off (config)]" in text(boss.send("/plugins"))

    assert text(boss.send("/plugin enable hello")) == "Plugin hello is switched on in every process."
    assert "greeting #1" in text(alice.send("/hello"))                        # its table was migrated
    assert "hello.morning" in {info.id for info in bot.app.scheduler.jobs()}
    assert "hello 1.0.0 [enabled]" in text(boss.send("/plugins"))

    config = bot.app.config
    kwargs: dict[str, Any] = {"db_url": config["database"]["url"]}
    if config["redis"]["url"]:
        kwargs.update(redis=True, redis_prefix=config["redis"]["prefix"])
    second = make_bot(bot_factory, monkeypatch, plugins=CONFIG_OFF, **kwargs)   # a restart, same config
    second._update_ids = itertools.count(next(bot._update_ids) + 10_000)
    assert "greeting #2" in text(person(second, ALICE).send("/hello"))      # the stored choice wins
    assert "hello.morning" in {info.id for info in second.app.scheduler.jobs()}

    boss = person(second, SUPER)
    assert text(boss.send("/plugin disable hello")).startswith("Plugin hello is switched off in every process")
    assert texts(person(second, ALICE).send("/hello")) == [UNKNOWN.format(command="hello")]
    assert "hello 1.0.0 [off (admin)]" in text(boss.send("/plugins"))
    assert [row.action for row in audit_rows() if row.action.startswith("plugin_")] == [
        "plugin_enabled", "plugin_disabled"]


def test_a_plugin_not_in_the_config_stays_unloaded(bot: Any) -> None:
    assert "probe" not in bot.app.plugins.plugins
    assert text(person(bot, SUPER).send("/plugin enable probe")).startswith("No plugin probe.")


def test_a_paused_plugin_is_resumed_by_command(bot: Any) -> None:
    plugins = bot.app.plugins
    for user in range(plugins._breaker.users):   # what the breaker does after failures of several users
        plugins.record_failure("hello", "ValueError: broken", 5000 + user)
    assert plugins.plugins["hello"].status == "paused"
    assert texts(person(bot, ALICE).send("/hello")) == ["This feature is paused for now, please try again later."]
    replies = person(bot, SUPER).send("/plugin resume hello")
    assert texts(replies)[-1] == "Plugin hello resumed."
    assert sorted(r.chat_id for r in replies if r.text == "✅ Plugin hello runs again.") == sorted([SUPER, KEYS, MANAGER])
    assert "Hello" in text(person(bot, ALICE).send("/hello"))
    [row] = audit_rows("plugin_resumed")
    assert row.telegram_id == SUPER and row.details == {"plugin": "hello"}


def test_jobs_show_next_run_and_last_outcome_and_job_run_runs_one_now(bot: Any) -> None:
    boss = person(bot, SUPER)
    listing = text(boss.send("/jobs"))
    assert "hello.morning: last — · next " in listing
    assert "datarights.retention: last — · next 2025-05-06 10:00 UTC" in listing
    reply = text(boss.send("/job run hello.morning"))
    assert reply.startswith("Job hello.morning ran: ok")
    assert "hello.morning: last 2025-05-05 12:00" in text(boss.send("/jobs"))
    assert text(boss.send("/job run nothing.here")).startswith("No job nothing.here.")
    [row] = audit_rows("job_run")
    assert row.details == {"job": "hello.morning"} and row.telegram_id == SUPER
    assert texts(person(bot, KEYS).send("/job run hello.morning")) == ["You are not allowed to do that."]


def test_audit_shows_both_trails_filtered_and_paginated(bot_factory, monkeypatch, backend) -> None:
    bot = make_bot(bot_factory, monkeypatch, backend,
                   plugins={"admin": {"page_size": 3}, "hello": {"module": "plugbot_hello"}})
    manager = person(bot, MANAGER)
    manager.send("/ban @bob 1h spam")
    manager.send("/unban @bob")
    manager.send("/user @alice")
    first = manager.send("/audit")[0]
    assert first.text.startswith("Audit, page 1 (🔒 personal data):") and first.button_texts == ["Next ▶️"]
    lines = first.text.splitlines()[1:]
    assert len(lines) == 3 and lines[0].startswith("🔒") and "view_profile" in lines[0]
    manager.press("Next ▶️")
    assert "page 2" in bot.telegram.messages[(MANAGER, first.message_id)].text

    bans = text(manager.send("/audit @bob ban"))
    assert bans.count(" ban ") == 2 and "unban" not in bans   # audit_logs and pd_audit_log, bob's only
    assert f"{MANAGER} → {BOB}" in bans
    assert text(manager.send("/audit @alice ban")) == "No audit entries."
    from plugins.admin.system import AuditPage

    assert texts(person(bot, KEYS).press(data=AuditPage(page=1))) == ["This button is no longer valid."]


def test_admin_menu_offers_only_what_the_admin_may_open(bot: Any) -> None:
    boss, keys, manager = person(bot, SUPER), person(bot, KEYS), person(bot, MANAGER)
    assert boss.send("/admin")[0].button_texts == ["👥 Users", "🚪 Access", "📜 Audit", "🤖 LLM", "🧩 Plugins",
                                                   "⏰ Jobs"]
    assert keys.send("/admin")[0].button_texts == ["🤖 LLM", "⏰ Jobs"]
    assert manager.send("/admin")[0].button_texts == ["👥 Users", "🚪 Access", "📜 Audit", "⏰ Jobs"]
    boss.send("/admin")
    boss.press("🧩 Plugins")
    assert "hello [enabled]" in bot.latest(SUPER).text
    manager.send("/admin")
    manager.press("👥 Users")
    assert bot.latest(MANAGER).text.startswith("Users, page 1:")
    from plugins.admin.menu import MenuChoice

    assert texts(manager.press(data=MenuChoice(section="plugins"))) == ["This button is no longer valid."]
    assert texts(person(bot, BOB).press(data=MenuChoice(section="users"))) == ["This button is no longer valid."]


def test_an_admin_who_speaks_russian_gets_the_console_in_russian(bot: Any) -> None:
    boss = bot.user(SUPER, username="boss", first_name="Boss", language_code="ru")
    assert boss.send("/admin")[0].text == "Администрирование: что показать?"
    assert text(boss.send("/ban @bob 1h спам")).startswith("Bob (@bob) заблокирован до 2025-05-05 13:00 UTC")
