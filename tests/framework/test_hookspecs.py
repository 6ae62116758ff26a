"""framework/hookspecs.py: one test per hook, named ``test_hook_<hook>``, through a real application
(mostly with the example plugin, which implements every hook); and the meta-tests that keep the
hook list honest: every hook is implemented by a shipped or example plugin and has a test."""
from __future__ import annotations

import ast
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import plugins_for_tests
import pytest

from framework import ConfigError, PluginInfo, connection_scope, hookspecs

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
EXAMPLES = ROOT / "examples" / "hello"
HELLO = {"module": "plugbot_hello"}
ADMIN = 900
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("plugbot_"))


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(HERE))
    plugins_for_tests.reset()


def greeting(telegram_id: int) -> Any:
    from plugbot_hello.models import Greeting

    from framework.models import User

    with connection_scope():
        return Greeting.select().join(User).where(User.telegram_id == telegram_id).first()


def set_nickname(user: Any, nickname: str) -> None:
    user.send("/nickname")
    user.send(nickname)
    user.press("Yes")


# -- identity and configuration ------------------------------------------------------------------------


def test_hook_plugbot_plugin_info(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    info = bot.app.plugins.plugins["hello"].info
    assert info == PluginInfo(name="hello", version="1.0.0", description="Greets you and remembers your nickname",
                              api_version=">=2.0,<3.0")
    assert bot.app.plugins.plugins["core"].info.name == "core"


def test_hook_plugbot_plugin_info_name_follows_the_config_section(bot_factory) -> None:
    bot = bot_factory({"greeter": HELLO})
    assert bot.app.plugins.plugins["greeter"].info.name == "greeter"
    assert bot.app.plugins.plugins["greeter"].info.version == "1.0.0"


def test_hook_plugbot_config_defaults(bot_factory) -> None:
    bot = bot_factory({"hello": {**HELLO, "greeting_emoji": "🙂"}})
    assert bot.app.plugin_settings("hello") == {"greeting_emoji": "🙂", "morning_hour": 9, "quiet_chats": [],
                                                "announce_restarts": False}
    assert bot.user(1).send("/hello")[0].text.startswith("🙂 Hello")


def test_hook_plugbot_validate_config_error_has_the_key_path(bot_factory) -> None:
    with pytest.raises(ConfigError) as caught:
        bot_factory({"hello": {**HELLO, "morning_hour": 30}})
    assert caught.value.errors == ["plugins.hello.morning_hour: must be between 0 and 23"]


# -- storage ---------------------------------------------------------------------------------------------


def test_hook_plugbot_register_models(bot_factory) -> None:
    from plugbot_hello.models import Greeting

    bot = bot_factory({"hello": HELLO})
    assert bot.app.plugins.plugins["hello"].models == [Greeting]


def test_hook_plugbot_register_migrations(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    assert bot.app.plugins.plugins["hello"].migrations == [str(EXAMPLES / "plugbot_hello" / "migrations")]
    assert ("hello", "0001_initial") in {(row.plugin, row.name) for row in bot.app.migration_status()}
    with connection_scope():
        assert "hello_greetings" in bot.app.db.get_tables()


# -- behaviour ---------------------------------------------------------------------------------------------


def test_hook_plugbot_register_locales(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    assert bot.app.i18n.languages("hello") == ["en", "ru"]
    assert bot.user(1, language_code="ru").send("/hello")[0].text == "👋 Привет, User1! Это приветствие №1."
    assert bot.user(2, language_code="en-GB").send("/hello")[0].text == "👋 Hello, User2! That's greeting #1."


def test_hook_plugbot_register_handlers(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    routes = bot.app.routes
    assert [c.name for c in routes.commands_of("hello")] == ["hello", "nickname", "morning"]
    assert routes.callbacks["nick"].plugin == "hello"                  # the conversation's button class
    assert routes.callbacks["nick"].data_class.__name__ == "NicknameAnswer"
    assert ("hello", "nickname") in routes.conversations
    user = bot.user(1)
    assert user.send("/morning on")[0].text == "I'll say good morning at 9:00 your time."
    assert user.send("/morning sometimes")[0].text == (
        "“sometimes” is not one of: on, off.\nUsage: /morning <on|off> — good-morning messages on|off")


def test_hook_plugbot_register_handlers_gives_the_plugins_handle(bot_factory) -> None:
    bot = bot_factory({"wrapped": {"module": "plugins_for_tests.wrapped"}})
    assert bot.user(1).send("/wrapped")[0].text == "wrapped is wrapped"  # register.plugin.name
    assert bot.app.plugins.plugins["wrapped"].handle.name == "wrapped"


def test_hook_plugbot_register_handlers_middleware_keeps_hello_quiet(bot_factory) -> None:
    bot = bot_factory({"hello": {**HELLO, "quiet_chats": "-500, -600"}})  # a list from an env string
    member = bot.user(1)
    assert member.in_chat(-500).send("/hello") == []
    assert member.in_chat(-600).send("/nickname") == []
    assert greeting(1) is None
    assert member.in_chat(-700).send("/hello")[0].text.endswith("greeting #1.")
    assert member.in_chat(-500).send("/help")[0].text.startswith("Available commands")  # other plugins answer


def test_hook_plugbot_register_handlers_middleware_follows_the_runtime_name(bot_factory) -> None:
    """Loaded as ``greeter``, hello's middleware reads greeter's settings (1.x compared
    ``ctx.plugin`` with a constant "hello", so quiet_chats was silently ignored)."""
    bot = bot_factory({"greeter": {**HELLO, "quiet_chats": [-500]}})
    member = bot.user(1)
    assert member.in_chat(-500).send("/hello") == []
    assert member.in_chat(-700).send("/hello")[0].text.endswith("greeting #1.")


def test_hook_plugbot_register_handlers_middleware_ends_a_failed_conversation(bot_factory, monkeypatch) -> None:
    from plugbot_hello import handlers

    bot = bot_factory({"hello": HELLO})
    user = bot.user(1)
    user.send("/nickname")
    user.send("Bob")

    def broken(ctx: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(handlers, "_greeting", broken)
    assert [r.text for r in user.press("Yes")] == ["Something went wrong, sorry. Please try again."]
    monkeypatch.undo()
    # the conversation is over: "Carl" is no nickname, only the core's pointer to /help answers it
    assert [r.text for r in user.send("Carl")] == ["I did not understand that. Send /help to see what I can do."]
    assert user.send("/cancel")[0].text == "Nothing to cancel."


def test_hook_plugbot_update_done_sees_every_update_once(bot_factory) -> None:
    bot = bot_factory({"observer": {"module": "plugins_for_tests.observer"},
                       "flaky": {"module": "plugins_for_tests.flaky"}, "hello": HELLO})
    user = bot.user(1)
    user.send("/hello")
    user.send("/boom")
    user.send("/nosuchcommand")
    assert plugins_for_tests.events("done") == [
        ("hello", "/hello", None),
        ("flaky", "/boom", "ValueError('the flaky plugin broke')"),
        ("core", "/nosuchcommand", None),  # no handler ran: the core answered
    ]


def test_hook_plugbot_update_done_failing_costs_nothing_else(bot_factory, caplog) -> None:
    bot = bot_factory({"observer": {"module": "plugins_for_tests.observer"}, "hello": HELLO})
    user = bot.user(1)
    assert user.send("/observe_fail")[0].text == "I don't know /observe_fail. See /help."
    assert user.send("/hello")[0].text.endswith("greeting #1.")
    assert plugins_for_tests.events("done") == [("hello", "/hello", None)]
    assert any("plugin observer failed observing update" in r.getMessage() for r in caplog.records)
    assert bot.app.plugins.plugins["observer"].status == "enabled"


def test_hook_plugbot_update_done_counts_updates_for_the_admins(bot_factory) -> None:
    """The core's own observer: /plugins shows each plugin's updates and failures since start."""
    bot = bot_factory({"flaky": {"module": "plugins_for_tests.flaky"}, "hello": HELLO}, admins=(ADMIN,))
    user = bot.user(1)
    user.send("/hello")
    user.send("/hello")
    user.send("/boom")
    user.send("/fine")
    lines = bot.user(ADMIN).send("/plugins")[0].text.splitlines()
    assert lines[lines.index("hello 1.0.0 [enabled]") + 1] == "   updates since start: 2, failed: 0"
    assert lines[lines.index("flaky 0.3.0 [enabled]") + 1] == "   updates since start: 2, failed: 1"


def test_hook_plugbot_message_sent_reports_each_message_with_its_id(bot_factory) -> None:
    bot = bot_factory({"watcher": {"module": "plugins_for_tests.watcher"}, "hello": HELLO})
    reply = bot.user(1).send("/hello")[0]
    sent = plugins_for_tests.events("sent")
    assert [(m.chat_id, m.message_id, m.text) for m in sent] == [(1, reply.message_id, reply.text)]


# -- time -------------------------------------------------------------------------------------------------


def test_hook_plugbot_register_jobs(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    job = bot.app.routes.jobs["hello.morning"]
    assert (job.plugin, job.trigger, job.trigger_args) == ("hello", "interval", {"minutes": 15})
    bot.set_time(dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC))
    bot.user(1).send("/morning on")
    assert bot.run_job("hello.morning") == []  # 8:00 UTC: not yet
    bot.set_time(dt.datetime(2024, 5, 1, 9, 5, tzinfo=dt.UTC))
    assert [(r.chat_id, r.text) for r in bot.run_job("hello.morning")] == [(1, "Good morning, User1! ☀️")]
    assert bot.run_job("hello.morning") == []  # once a day


def test_hook_plugbot_startup(bot_factory) -> None:
    bot = bot_factory({"hello": {**HELLO, "announce_restarts": True}, "beta": {"module": "plugins_for_tests.beta"},
                       "alpha": {"module": "plugins_for_tests.alpha"}}, admins=(ADMIN,))
    assert plugins_for_tests.events("startup") == ["alpha", "beta"]
    assert [(r.chat_id, r.text) for r in bot.telegram.calls] == [(ADMIN, "👋 The bot is up again.")]


def test_hook_plugbot_startup_gets_the_handle_of_the_runtime_name(bot_factory) -> None:
    bot = bot_factory({"greeter": {**HELLO, "announce_restarts": True},
                       "first": {"module": "plugins_for_tests.alpha"}}, admins=(ADMIN,))
    assert plugins_for_tests.events("startup") == ["first"]  # plugin.name, not the module's idea of it
    assert [(r.chat_id, r.text) for r in bot.telegram.calls] == [(ADMIN, "👋 The bot is up again.")]


def test_hook_plugbot_startup_quiet_by_default(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO}, admins=(ADMIN,))
    assert bot.telegram.calls == []


def test_hook_plugbot_shutdown_called_on_app_stop(bot_factory) -> None:
    bot = bot_factory({"hello": {**HELLO, "announce_restarts": True}, "alpha": {"module": "plugins_for_tests.alpha"}},
                      admins=(ADMIN,))
    assert plugins_for_tests.events("shutdown") == []
    bot.app.stop()
    assert plugins_for_tests.events("shutdown") == ["alpha"]  # plugin.name
    assert (ADMIN, "👋 The bot is stopping. See you soon.") in [(r.chat_id, r.text) for r in bot.telegram.calls]


# -- user data rights -------------------------------------------------------------------------------------


def test_hook_plugbot_export_user_data(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    user = bot.user(1)
    user.send("/hello")
    set_nickname(user, "Bob")
    (document,) = user.send("/mydata")
    assert document.filename == "mydata.json"
    data = json.loads(document.document)
    assert data["plugins"]["hello"] == {"greetings": 1, "nickname": "Bob", "morning": False}
    assert data["plugins"]["datarights"]["profile"]["telegram_id"] == 1
    assert "hello" not in json.loads(bot.user(2).send("/mydata")[0].document)["plugins"]  # nothing stored


def test_hook_plugbot_delete_user_data(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    user, other = bot.user(1), bot.user(2)
    user.send("/hello")
    other.send("/hello")
    user.send("/deleteme")
    assert user.press("Yes")  # the confirmation button
    assert greeting(1) is None
    assert greeting(2).count == 1


def test_hook_plugbot_archive_user_data_via_the_retention_job(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    bot.set_time(dt.datetime(2024, 1, 10, 12, 0, tzinfo=dt.UTC))
    gone, staying = bot.user(1), bot.user(2)
    for user in (gone, staying):
        user.send("/hello")
        user.send("/morning on")
    set_nickname(gone, "Bob")
    bot.advance(days=100)
    set_nickname(staying, "Sue")
    bot.advance(days=81)  # 181 days after `gone` was last seen, 81 after `staying`
    sent = bot.run_job("datarights.retention")
    assert [r.chat_id for r in sent] == [1]  # the inactivity reminder
    archived = greeting(1)
    assert (archived.count, archived.nickname, archived.morning) == (1, None, False)
    kept = greeting(2)
    assert (kept.nickname, kept.morning) == ("Sue", True)
    bot.advance(days=1)
    bot.run_job("datarights.retention")
    assert greeting(1).count == 1  # archived once, the anonymous count stays


# -- admin --------------------------------------------------------------------------------------------------


def test_hook_plugbot_register_cli(bot_factory, tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    from framework.cli import main

    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path}/bot.db"
    bot = bot_factory({"clitool": {"module": "plugins_for_tests.clitool"}}, db_url=url)
    bot.user(1).send("/start")
    bot.app.stop()  # one live application per process: the command builds its own
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {url}\nplugins:\n  tool:\n    module: plugins_for_tests.clitool\n")
    assert main(["--config", str(config), "tool", "echo", "a", "b"]) == 0
    assert capsys.readouterr().out == "tool: a b; users=1\n"  # the runtime name, in a database connection
    assert main(["--config", str(config), "tool", "echo", "fail"]) == 3
    capsys.readouterr()
    assert main(["--config", str(config), "tool", "nope"]) == 2
    assert "unknown command 'tool nope'; plugins offer: tool echo: print the arguments" in capsys.readouterr().err
    assert main(["--config", str(config), "check-config"]) == 0  # built-in commands are untouched


def test_hook_plugbot_stats(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    assert bot.app.plugins.call_each("plugbot_stats") == [("hello", {"hello_users": 0})]
    bot.user(1).send("/hello")
    bot.user(2).send("/hello")
    bot.user(2).send("/hello")
    with connection_scope():
        assert dict(bot.app.plugins.call_each("plugbot_stats")) == {"hello": {"hello_users": 2}}


# -- meta-tests ------------------------------------------------------------------------------------------


def _implemented_hooks(path: Path) -> set[str]:
    """Names of ``@hookimpl`` functions in ``path`` (read, not imported: a plugin mid-edit cannot break this)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("plugbot_"):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if getattr(target, "id", getattr(target, "attr", None)) == "hookimpl":
                    found.add(node.name)
    return found


def shipped_plugin_files() -> list[Path]:
    files = sorted((ROOT / "framework" / "builtins").glob("*.py"))
    files += sorted((EXAMPLES / "plugbot_hello").glob("*.py"))
    files += sorted((ROOT / "plugins").glob("*/*.py"))
    return files


def test_hookspecs_are_documented_in_the_module() -> None:
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring in hookspecs.py"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_implemented_by_a_shipped_plugin(hook: str) -> None:
    implemented = set().union(*(_implemented_hooks(path) for path in shipped_plugin_files()))
    assert hook in implemented, f"no built-in, example or shipped plugin implements {hook}"


def test_hook_implementations_name_real_hooks() -> None:
    for path in shipped_plugin_files():
        unknown = _implemented_hooks(path) - set(HOOKS)
        assert not unknown, f"{path} implements hooks that do not exist: {sorted(unknown)}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.add(path.stem)
        names.update(re.findall(r"^\s*def (test_\w+)", path.read_text(encoding="utf-8"), re.MULTILINE))
    assert any(hook in name for name in names), f"no test file or test function is named after {hook}"


def test_hook_plugbot_stats_is_shown_to_admins_by_plugins_command(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO}, admins=(99,))
    bot.user(1).send("/hello")
    text = bot.user(99).send("/plugins")[-1].text
    assert "hello: hello_users=1" in text
    assert "cache users:" in text
    assert bot.user(1).send("/plugins")[-1].text == "I don't know /plugins. See /help."
