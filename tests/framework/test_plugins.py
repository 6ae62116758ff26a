"""framework/plugins.py through a whole application: loading by dotted path and entry point,
enable/disable, dependency order, isolation of broken plugins, the circuit breaker, /help."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import plugins_for_tests
import pytest

from framework import ConfigError, connection_scope
from framework.registry import RegistrationError

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"
HELLO = {"module": "plugbot_hello"}
ADMIN = 900


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(HERE))
    plugins_for_tests.reset()


def section_of(name: str) -> dict[str, Any]:
    """The config section of the test plugin ``plugins_for_tests.<name>``."""
    return {"module": f"plugins_for_tests.{name}"}


def tables(bot: Any) -> set[str]:
    with connection_scope():
        return set(bot.app.db.get_tables())


# -- enable / disable ------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_plugin_the_config_disables_is_loaded_but_off(bot_factory, database: str) -> None:
    """Loaded (imported, migrated, registered) so an admin can switch it on without a restart;
    until then it serves nothing."""
    bot = bot_factory({"hello": {**HELLO, "enabled": False}}, database=database)
    app = bot.app
    assert "hello_greetings" in tables(bot)
    assert app.plugins.plugins["hello"].status == "off"
    assert app.plugins.switchable("hello") and not app.plugins.config_default("hello")
    assert "hello.morning" in app.routes.jobs
    assert not [info for info in app.scheduler.jobs() if info.id.startswith("hello.")]
    user = bot.user(1)
    assert [r.text for r in user.send("/hello")] == ["I don't know /hello. See /help."]
    assert "/hello" not in user.send("/help")[0].text


def test_a_disabled_plugin_whose_settings_are_wrong_is_left_out_not_an_error(bot_factory) -> None:
    bot = bot_factory({"hello": {**HELLO, "enabled": False, "no_such_setting": 1}, "alpha": section_of("alpha")})
    hello = bot.app.plugins.plugins["hello"]
    assert hello.status == "disabled" and "no_such_setting: unknown setting" in hello.error
    assert bot.app.plugins.pm.get_plugin("hello") is None  # none of its hooks can run
    assert not bot.app.plugins.switchable("hello")


def test_enabled_plugin_creates_its_table_and_answers(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    assert "hello_greetings" in tables(bot)
    assert bot.app.plugins.plugins["hello"].status == "enabled"
    assert "hello.morning" in bot.app.routes.jobs
    assert bot.user(1).send("/hello")[0].text == "👋 Hello, User1! That's greeting #1."


def test_disabled_plugin_is_never_imported(bot_factory) -> None:
    bot = bot_factory({"ghost": {"enabled": False, "module": "no_such_package.plugin"}, "hello": HELLO})
    assert bot.app.plugins.plugins["ghost"].status == "disabled"
    assert bot.user(1).send("/hello")[0].text.startswith("👋 Hello")


# -- loading: dotted path and entry point --------------------------------------------------------


def fake_install(site: Path) -> None:
    """What `pip install examples/hello` leaves behind, as far as importlib.metadata can tell."""
    dist = site / "plugbot_hello-1.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugbot_hello\nVersion: 1.0.0\n")
    (dist / "entry_points.txt").write_text("[plugbot.plugins]\nhello = plugbot_hello\n")


def test_plugin_loaded_through_its_entry_point(bot_factory, tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    fake_install(site)
    monkeypatch.syspath_prepend(str(site))
    bot = bot_factory({"hello": {"enabled": True}})  # no `module:` key
    loaded = bot.app.plugins.plugins["hello"]
    assert loaded.module.__name__ == "plugbot_hello"
    assert loaded.info.version == "1.0.0"
    help_text = bot.user(1).send("/help")[0].text
    for line in ("/hello — say hello", "/nickname — choose how I call you",
                 "/morning — good-morning messages on|off"):
        assert line in help_text


def test_without_entry_point_or_module_the_plugin_cannot_be_found(bot_factory) -> None:
    with pytest.raises(ConfigError, match=r"plugins\.hello: cannot import 'hello'"):
        bot_factory({"hello": {"enabled": True}})


def test_help_lists_the_example_plugin_commands(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    text = bot.user(1).send("/help")[0].text
    assert text.startswith("Available commands:")
    section = text[text.index("👋 Hello"):]
    assert section.splitlines() == ["👋 Hello", "/hello — say hello", "/nickname — choose how I call you",
                                    "/morning — good-morning messages on|off"]
    ru = bot.user(2, language_code="ru").send("/help")[0].text
    assert "/hello — поздороваться" in ru


def test_command_claimed_by_two_plugins_fails_naming_both(bot_factory) -> None:
    with pytest.raises(RegistrationError, match="command /hello registered by both 'hello' and 'copycat'"):
        bot_factory({"hello": HELLO, "copycat": section_of("copycat")})


# -- dependencies ----------------------------------------------------------------------------------


def test_dependencies_load_and_start_first(bot_factory) -> None:
    bot = bot_factory({"beta": section_of("beta"), "alpha": section_of("alpha")})  # beta listed first
    order = bot.app.plugins.order
    assert order.index("alpha") < order.index("beta")
    assert plugins_for_tests.events("startup") == ["alpha", "beta"]
    help_text = bot.user(1).send("/help")[0].text
    assert help_text.index("/alpha") < help_text.index("/beta")


@pytest.mark.parametrize(("alpha", "why"), [
    (None, "is not configured"),
    ({"enabled": False, "module": "plugins_for_tests.alpha"}, "is disabled"),
])
def test_missing_or_disabled_dependency_is_a_config_error(bot_factory, alpha: Any, why: str) -> None:
    plugins = {"beta": section_of("beta")}
    if alpha is not None:
        plugins["alpha"] = alpha
    with pytest.raises(ConfigError) as caught:
        bot_factory(plugins)
    assert caught.value.errors == [f"plugins.beta.depends_on: 'beta' needs 'alpha', which {why}"]


def test_dependency_that_failed_to_import_is_a_config_error(bot_factory) -> None:
    """The dependency's name is taken by a plugin whose import raises."""
    with pytest.raises(ConfigError) as caught:
        bot_factory({"beta": section_of("beta"), "alpha": section_of("broken_import")})
    assert caught.value.errors == ["plugins.beta.depends_on: 'beta' needs 'alpha', which failed to load"]


# -- broken plugins are isolated ---------------------------------------------------------------------


def test_plugin_whose_import_raises_is_skipped(bot_factory, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="plugbot.plugins")
    bot = bot_factory({"broken": section_of("broken_import"), "hello": HELLO})
    broken = bot.app.plugins.plugins["broken"]
    assert broken.status == "failed"
    assert broken.error == "import failed: RuntimeError: broken_import cannot start: missing API credentials"
    assert any("plugin broken skipped" in r.getMessage() for r in caplog.records)
    assert bot.user(1).send("/hello")[0].text.startswith("👋 Hello")


def test_strict_plugins_refuses_a_plugin_whose_import_raises(bot_factory) -> None:
    with pytest.raises(ConfigError) as caught:
        bot_factory({"broken": section_of("broken_import")}, config={"strict_plugins": True})
    assert caught.value.errors == [
        "plugins.broken: import failed: RuntimeError: broken_import cannot start: missing API credentials"]


def test_api_version_mismatch_is_refused_with_a_clear_message(bot_factory) -> None:
    with pytest.raises(ConfigError) as caught:
        bot_factory({"future_api": section_of("future_api")})
    assert caught.value.errors == ["plugins.future_api: written for plugbot API >=3.0,<4.0, "
                                   "this is 2.0; upgrade the plugin or plugbot"]


def test_a_plugin_written_for_api_1_is_refused_naming_what_changed(bot_factory) -> None:
    with pytest.raises(ConfigError) as caught:
        bot_factory({"old_api": section_of("old_api"), "hello": HELLO})
    assert caught.value.errors == [
        "plugins.old_api: written for plugbot API >=1.0,<2.0, this is 2.0 (text handlers now handle by default "
        "— return SKIP to pass; hooks get `plugin`; plugbot_before_update/after_update became "
        "register.middleware; buttons are typed CallbackData) — see docs/plugins.md \"Changes for plugin authors\""]
    assert "\n## Changes for plugin authors\n" in (HERE.parents[1] / "docs" / "plugins.md").read_text()


def test_the_example_the_builtins_and_the_echo_plugin_are_written_for_this_api(bot_factory, monkeypatch) -> None:
    """(The expenses plugin checks its own, in tests/plugins/expenses.)"""
    from framework import API_VERSION
    from framework.plugins import api_compatible

    monkeypatch.syspath_prepend(str(HERE.parents[1]))
    bot = bot_factory({"hello": HELLO, "echo": {"module": "benchmarks.echo_plugin"}})
    assert API_VERSION == "2.0"
    for name, loaded in bot.app.plugins.plugins.items():
        assert api_compatible(loaded.info.api_version), name
        assert not api_compatible(loaded.info.api_version, "1.0"), name


# -- load errors: a hook that would silently never run --------------------------------------------


@pytest.mark.parametrize(("plugin", "problem"), [
    ("misspelt", "misspelt.py: unknown hook plugbot_register_handler (did you mean plugbot_register_handlers?)"),
    ("undecorated", "undecorated.py: plugbot_register_handlers is not decorated with @hookimpl, "
                    "so it would never be called"),
    ("hookless", "hookless.py defines no plugbot hook: wrong module path or a folder shadowing the package?"),
    ("old_arguments", "old_arguments.py: plugbot_startup(app): the hook passes plugin, not app"),
])
def test_a_hook_that_would_never_run_is_a_load_error_naming_the_file(bot_factory, plugin: str,
                                                                    problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        bot_factory({plugin: section_of(plugin), "hello": HELLO})
    assert caught.value.errors == [f"plugins.{plugin}: {HERE / 'plugins_for_tests'}/{problem}"]


def test_a_folder_in_place_of_the_plugin_package_is_a_load_error_naming_it(bot_factory, tmp_path: Path,
                                                                             monkeypatch) -> None:
    """The plugin is not installed, but a folder of its name (no ``__init__.py``) is on the path:
    it imports as an empty namespace package, which 1.x loaded as an "enabled" plugin doing nothing."""
    folder = tmp_path / "plugbot_weather"
    (folder / "locales").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        bot_factory({"weather": {"module": "plugbot_weather"}})
    assert caught.value.errors == [f"plugins.weather: {folder} defines no plugbot hook: wrong module path "
                                   "or a folder shadowing the package?"]


# -- calling hooks the way pluggy would -------------------------------------------------------------


def test_hooks_behind_a_functools_wraps_decorator_get_their_arguments(bot_factory) -> None:
    bot = bot_factory({"wrapped": section_of("wrapped")})
    assert bot.app.plugins.plugins["wrapped"].status == "enabled"
    assert bot.user(1).send("/wrapped")[0].text == "wrapped is wrapped"
    assert plugins_for_tests.events("traced") == ["plugbot_plugin_info", "plugbot_register_handlers",
                                                  "plugbot_startup"]


def test_tryfirst_moves_an_implementation_to_the_front(bot_factory) -> None:
    bot_factory({"alpha": section_of("alpha"), "wrapped": section_of("wrapped")})
    assert plugins_for_tests.events("startup") == ["wrapped", "alpha"]


def test_the_builtins_register_their_handlers_last(bot_factory) -> None:
    """``@hookimpl(trylast=True)`` on the built-ins' register hooks puts them after every plugin,
    whatever the load order (the built-ins load first)."""
    bot = bot_factory({"hello": HELLO, "alpha": section_of("alpha")})
    assert bot.app.plugins.order[:3] == ["core", "datarights", "maintenance"]
    callers = [name for name, _ in bot.app.plugins.impls("plugbot_register_handlers")]
    assert callers == ["hello", "alpha", "core", "datarights"]


def test_plugin_whose_startup_raises_is_skipped(bot_factory) -> None:
    bot = bot_factory({"bad_startup": section_of("bad_startup"), "hello": HELLO})
    app = bot.app
    plugin = app.plugins.plugins["bad_startup"]
    assert plugin.status == "failed"
    assert plugin.error == "startup: ConnectionError: cannot reach the fortune server"
    assert "bad_startup" not in app.plugins.order
    assert not app.routes.commands_of("bad_startup")
    assert "bad_startup.tick" not in app.routes.jobs
    assert "bad_startup.tick" not in {info.id for info in app.scheduler.jobs()}
    user = bot.user(1)
    assert user.send("/badstart")[0].text == "I don't know /badstart. See /help."
    assert user.send("/hello")[0].text.startswith("👋 Hello")


def test_strict_plugins_stops_on_a_failing_startup(bot_factory) -> None:
    with pytest.raises(ConnectionError, match="fortune server"):
        bot_factory({"bad_startup": section_of("bad_startup")}, config={"strict_plugins": True})


def test_raising_handler_is_isolated(bot_factory) -> None:
    bot = bot_factory({"flaky": section_of("flaky"), "hello": HELLO})
    user = bot.user(1)
    replies = user.send("/boom")
    assert [r.text for r in replies] == ["Something went wrong, sorry. Please try again."]
    assert user.send("/fine")[0].text == "fine"
    assert user.send("/hello")[0].text.startswith("👋 Hello")
    assert bot.app.plugins.plugins["flaky"].error == "ValueError: the flaky plugin broke"
    assert bot.app.plugins.plugins["flaky"].status == "enabled"


def test_circuit_breaker_pauses_a_plugin_when_three_users_fail_in_it(bot_factory, tmp_path: Path) -> None:
    bot = bot_factory({"flaky": section_of("flaky"), "hello": HELLO}, admins=(ADMIN,))
    users = [bot.user(n) for n in (1, 2, 3)]
    for user in users[:2]:
        assert user.send("/boom")[0].text == "Something went wrong, sorry. Please try again."
        assert bot.app.plugins.plugins["flaky"].status == "enabled"
    third = users[2].send("/boom")
    assert [r.text for r in third if r.chat_id == users[2].id] == ["Something went wrong, sorry. Please try again."]
    to_admin = [r for r in third if r.chat_id == ADMIN]
    assert len(to_admin) == 1
    assert to_admin[0].text.startswith("⚠️ Plugin flaky was paused after repeated errors.")
    assert "ValueError: the flaky plugin broke" in to_admin[0].text
    assert bot.app.plugins.plugins["flaky"].status == "paused"

    # the user gets the paused notice for every command of the plugin, other plugins work on
    user = users[0]
    assert user.send("/fine")[0].text == "This feature is paused for now, please try again later."
    assert user.send("/boom")[0].text == "This feature is paused for now, please try again later."
    assert user.send("/hello")[0].text.startswith("👋 Hello")

    # admins see it in /plugins
    listing = bot.user(ADMIN).send("/plugins")[0].text
    assert "flaky 0.3.0 [paused]" in listing
    assert "ValueError: the flaky plugin broke" in listing
    assert "hello 1.0.0 [enabled]" in listing


def test_plugins_lists_each_plugins_jobs_with_their_last_run(bot_factory) -> None:
    bot = bot_factory({"probe": {"module": "plugins_for_tests.probe"}}, admins=(ADMIN,))
    before = bot.user(ADMIN).send("/plugins")[0].text
    assert "   probe.tick: last —, —, —; runs 0, failures 0" in before

    bot.run_job("probe.tick")
    bot.run_job("probe.explode")
    bot.run_job("probe.explode")
    lines = bot.user(ADMIN).send("/plugins")[0].text.splitlines()
    probe = lines.index(next(line for line in lines if line.startswith("probe 0.1.0")))
    explode, error, tick = lines[probe + 1:probe + 4]
    run = r"last \d{4}-\d\d-\d\d \d\d:\d\d, (ok|error), \d+\.\d\ds; runs (\d), failures (\d)"
    assert re.fullmatch(r"   probe\.explode: " + run, explode).groups() == ("error", "2", "2")
    assert error == "      RuntimeError: kaboom"
    assert re.fullmatch(r"   probe\.tick: " + run, tick).groups() == ("ok", "1", "0")


def test_non_admin_cannot_list_plugins(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO}, admins=(ADMIN,))
    assert bot.user(1).send("/plugins")[0].text == "I don't know /plugins. See /help."



def test_start_welcomes_by_name_and_lists_what_every_plugin_offers(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    text = bot.user(1, first_name="Ann").send("/start")[0].text
    assert text.startswith("Hi Ann! Here is what I can do:")
    assert "/help — all commands" in text and "/mydata — download all your data" in text
    assert text[text.index("👋 Hello"):].splitlines()[1] == "/hello — say hello"
    ru = bot.user(2, first_name="Аня", language_code="ru").send("/start")[0].text
    assert ru.startswith("Привет, Аня! Вот что я умею:") and "/hello — поздороваться" in ru


def test_the_apology_for_a_failing_handler_is_in_the_users_language(bot_factory) -> None:
    bot = bot_factory({"flaky": section_of("flaky")})
    assert [r.text for r in bot.user(2, language_code="ru").send("/boom")] == [
        "Что-то пошло не так, извините. Попробуйте ещё раз."]


def test_circuit_breaker_counts_errors_inside_its_configured_window_and_pause_ends(
        bot_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    import framework.plugins

    now = [1000.0]
    monkeypatch.setattr(framework.plugins.time, "monotonic", lambda: now[0])
    bot = bot_factory({"flaky": section_of("flaky")},
                      config={"circuit_breaker": {"users": 2, "window_seconds": 60, "pause_seconds": 600}})
    user = bot.user(1)
    user.send("/boom")
    now[0] += 61  # the first error left the window
    bot.user(2).send("/boom")
    assert bot.app.plugins.plugins["flaky"].status == "enabled"
    now[0] += 30
    bot.user(3).send("/boom")  # two users' errors within 60 s
    assert bot.app.plugins.plugins["flaky"].status == "paused"
    assert user.send("/fine")[0].text == "This feature is paused for now, please try again later."
    now[0] += 601
    assert user.send("/fine")[0].text == "fine"
