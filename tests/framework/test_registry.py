"""framework/registry.py through a whole application: middleware scoped to its plugin, built-in
commands as defaults a plugin overrides only with ``override=True``, and ``Routes.drop``."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import plugins_for_tests
import pytest

from framework import CallbackData, ConfigError, Conversation
from framework.plugin import Plugin
from framework.registry import CliRegistry, HandlerRegistry, JobRegistry, RegistrationError, Routes

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"
HELLO = {"module": "plugbot_hello"}
GATE = {"module": "plugins_for_tests.gate"}
ADMIN = 900
SORRY = "Something went wrong, sorry. Please try again."


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(HERE))
    plugins_for_tests.reset()


# -- middleware ----------------------------------------------------------------------------------------


def test_middleware_sees_only_its_own_plugins_handlers(bot_factory) -> None:
    bot = bot_factory({"gate": GATE, "hello": HELLO})
    user = bot.user(1)
    assert user.send("/hello")[0].text.endswith("greeting #1.")
    assert user.send("/help")[0].text.startswith("Available commands")
    assert plugins_for_tests.events("middleware") == []  # hello's and the core's handlers: not gate's business
    assert user.send("/gated ok")[0].text == "gate let 'ok' through"
    assert plugins_for_tests.events("middleware") == [("outer", "gate", "/gated ok"), ("inner", "gate", "/gated ok")]


def test_middleware_not_calling_call_next_stops_the_update(bot_factory) -> None:
    bot = bot_factory({"gate": GATE, "hello": HELLO})
    user = bot.user(1)
    assert user.send("/gated forbidden") == []
    assert [kind for kind, _, _ in plugins_for_tests.events("middleware")] == ["outer", "inner"]
    assert user.send("/hello forbidden")[0].text.endswith("greeting #1.")  # another plugin's update goes on


def test_a_failing_middleware_fails_like_its_plugins_handler(bot_factory) -> None:
    bot = bot_factory({"gate": GATE, "hello": HELLO})
    user = bot.user(1)
    assert [r.text for r in user.send("/gated explode")] == [SORRY]  # its own reply was dropped
    gate = bot.app.plugins.plugins["gate"]
    assert gate.error == "RuntimeError: the gate's middleware broke"
    assert gate.status == "enabled"
    assert user.send("/hello")[0].text.endswith("greeting #1.")
    assert user.send("/gated again")[0].text == "gate let 'again' through"


def test_middleware_sees_its_handlers_errors(bot_factory) -> None:
    bot = bot_factory({"flaky": {"module": "plugins_for_tests.flaky"}})
    user = bot.user(1)
    user.send("/fine")
    assert [r.text for r in user.send("/boom")] == [SORRY]
    assert plugins_for_tests.events("middleware") == [
        ("flaky", "fine", None),
        ("flaky", "boom", "ValueError('the flaky plugin broke')"),
    ]


def test_a_failing_handlers_session_change_is_dropped_with_its_writes(bot_factory) -> None:
    bot = bot_factory({"stepper": {"module": "plugins_for_tests.stepper"}})
    user = bot.user(1)
    user.send("/steps")
    assert [r.text for r in user.send("fail")] == [SORRY]
    assert bot.app.sessions.load(1).state == "FIRST"  # where it was: the move to SECOND failed with the step
    assert [r.text for r in user.send("ok")] == ["second step"]


# -- built-in commands are defaults ---------------------------------------------------------------------


def test_a_plugin_registering_a_builtin_command_without_override_fails_naming_both(bot_factory) -> None:
    with pytest.raises(RegistrationError) as caught:
        bot_factory({"shadow_help": {"module": "plugins_for_tests.shadow_help"}})
    assert caught.value.errors == ["command /help of plugin 'shadow_help' clashes with the built-in /help of "
                                   "'core'; pass override=True to replace it"]
    assert isinstance(caught.value, ConfigError)  # one line and exit status 2 from the command line


def test_an_override_replaces_the_builtin_and_keeps_its_permission(bot_factory) -> None:
    bot = bot_factory({"overrider": {"module": "plugins_for_tests.overrider"}}, admins=(ADMIN,))
    commands = bot.app.routes.commands
    assert (commands["help"].plugin, commands["plugins"].plugin) == ("overrider", "overrider")
    user = bot.user(1)
    assert [r.text for r in user.send("/help")] == ["overrider's own help"]
    assert [r.text for r in user.send("/plugins")] == ["I don't know /plugins. See /help."]  # still admins only
    assert [r.text for r in bot.user(ADMIN).send("/plugins")] == ["overrider's plugin list"]
    assert user.send("/language")[0].text  # the built-ins it did not override still answer


@pytest.mark.parametrize("builtin_first", [True, False], ids=["built-in first", "plugin first"])
def test_override_does_not_depend_on_who_registered_first(bot_factory, builtin_first: bool) -> None:
    app = bot_factory({"overrider": {"module": "plugins_for_tests.overrider"}}).app
    routes = Routes()
    core = HandlerRegistry(routes, app.plugins.plugins["core"].handle, builtin=True)
    plugin = HandlerRegistry(routes, app.plugins.plugins["overrider"].handle)

    def register_builtin() -> None:
        core.command("plugins", lambda ctx: None, permission="admin")

    def register_plugin() -> None:
        plugin.command("plugins", lambda ctx: None, override=True)

    for step in ((register_builtin, register_plugin) if builtin_first else (register_plugin, register_builtin)):
        step()
    command = routes.commands["plugins"]
    assert (command.plugin, command.permission) == ("overrider", "admin")


# -- Routes.drop ---------------------------------------------------------------------------------------


def _register_everything(app: Any, routes: Routes, name: str) -> None:
    handle = Plugin(app, name)
    register = HandlerRegistry(routes, handle)
    register.command(f"cmd_{name}", lambda ctx: None)
    register.text(lambda ctx: None)
    button = type(f"Button{name}", (CallbackData,), {"__annotations__": {"n": int}}, prefix=f"cb{name}")
    step = type(f"Step{name}", (CallbackData,), {"__annotations__": {"n": int}}, prefix=f"conv_{name}")
    register.callback(button, lambda ctx, data: None)
    conversation = Conversation(f"conv_{name}", states={"ONLY": []}, callbacks=[step])
    conversation.state("ONLY")(lambda ctx: None)
    register.conversation(conversation)
    register.content(["photo"], lambda ctx: None)
    register.payment(pre_checkout=lambda ctx: None, successful=lambda ctx: None, refunded=lambda ctx: None)
    register.middleware(lambda ctx, call_next: call_next())
    register.observer(lambda ctx: None, updates=["message", "edited_message"])
    JobRegistry(routes, handle)("tick", lambda job: None, trigger="interval", minutes=5)
    CliRegistry(routes, handle)("check", lambda plugin, args: 0)


def test_drop_forgets_every_kind_of_route_of_one_plugin_only(bot_factory) -> None:
    app = bot_factory({}).app
    routes = Routes()
    _register_everything(app, routes, "a")
    _register_everything(app, routes, "b")
    routes.drop("a")
    kept = {"commands": ["cmd_b"], "texts": ["b"], "callbacks": ["cbb", "conv_b"], "content": {"photo": ["b"]},
            "conversations": [("b", "conv_b")], "pre_checkout": ["b"], "successful_payment": ["b"],
            "refunded_payment": ["b"], "middleware": ["b"], "jobs": ["b.tick"], "cli": [("b", "check")],
            "observers": ["b"]}
    # A new kind of route must be dropped too: this test names every field of Routes.
    assert sorted(kept) == sorted(f.name for f in fields(Routes))
    assert list(routes.commands) == kept["commands"]
    assert [h.plugin for h in routes.texts] == kept["texts"]
    assert list(routes.callbacks) == kept["callbacks"]
    assert {k: [r.plugin for r in v] for k, v in routes.content.items()} == kept["content"]
    assert list(routes.conversations) == kept["conversations"]
    assert [r.plugin for r in routes.pre_checkout] == kept["pre_checkout"]
    assert [r.plugin for r in routes.successful_payment] == kept["successful_payment"]
    assert [r.plugin for r in routes.refunded_payment] == kept["refunded_payment"]
    assert list(routes.middleware) == kept["middleware"]
    assert list(routes.jobs) == kept["jobs"]
    assert list(routes.cli) == kept["cli"]
    assert [o.plugin for o in routes.observers] == kept["observers"]


def test_register_objects_carry_the_plugins_handle(bot_factory) -> None:
    app = bot_factory({"hello": HELLO}).app
    handle = app.plugins.plugins["hello"].handle
    assert isinstance(handle, Plugin)
    register = HandlerRegistry(Routes(), handle)
    assert (register.plugin, register.name) == (handle, "hello")
    assert JobRegistry(Routes(), handle).plugin is handle
