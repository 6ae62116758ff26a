"""docs/plugin_hooks.md names every ``register.*`` method with every argument, every job trigger
and every ``job.*`` method, and the hookspec docstrings (what an editor shows an author) say
the same: a new argument or method fails here until both are updated."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from framework import Context, JobContext, hookspecs
from framework.registry import HandlerRegistry, JobRegistry
from framework.scheduler import TRIGGERS

DOCS = Path(__file__).parents[2] / "docs" / "plugin_hooks.md"


def _section(hook: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"### {hook}\n")
    following = re.search(r"^#{2,3} ", text[start + 4:], flags=re.MULTILINE)
    return text[start:start + 4 + following.start()] if following else text[start:]


def _docstring(hook: str) -> str:
    return inspect.getdoc(getattr(hookspecs, hook)) or ""


def _public_methods(cls: type) -> list[str]:
    return sorted(name for name, value in vars(cls).items()
                  if not name.startswith("_") and (callable(value) or isinstance(value, property)))


def _call(text: str, method: str) -> str:
    """The argument list of the first ``register.<method>(...)`` in ``text``."""
    found = re.search(rf"register\.{method}\((.*?)\)(?:`|\s*→|\s*\(|;|\s*and)", text, flags=re.DOTALL)
    assert found, f"register.{method}(...) is not shown"
    return found.group(1)


REGISTER_ARGS = [(method, name) for method in _public_methods(HandlerRegistry)
                 for name, param in inspect.signature(getattr(HandlerRegistry, method)).parameters.items()
                 if param.kind == param.KEYWORD_ONLY]
HANDLER_METHODS = _public_methods(HandlerRegistry)


@pytest.mark.parametrize("method", HANDLER_METHODS)
@pytest.mark.parametrize("where", ["docs", "hookspec"])
def test_every_register_method_is_shown(method: str, where: str) -> None:
    text = _section("plugbot_register_handlers") if where == "docs" else _docstring("plugbot_register_handlers")
    assert f"register.{method}(" in text, f"{where}: register.{method} is missing"


@pytest.mark.parametrize(("method", "argument"), REGISTER_ARGS, ids=[f"{m}-{a}" for m, a in REGISTER_ARGS])
@pytest.mark.parametrize("where", ["docs", "hookspec"])
def test_every_keyword_argument_of_a_register_method_is_shown(method: str, argument: str, where: str) -> None:
    text = _section("plugbot_register_handlers") if where == "docs" else _docstring("plugbot_register_handlers")
    assert re.search(rf"\b{argument}=", _call(text, method)), f"{where}: register.{method}(... {argument}=)"


@pytest.mark.parametrize("where", ["docs", "hookspec"])
def test_job_registration_shows_its_arguments_and_every_trigger(where: str) -> None:
    text = _section("plugbot_register_jobs") if where == "docs" else _docstring("plugbot_register_jobs")
    signature = inspect.signature(JobRegistry.__call__).parameters
    for name, param in signature.items():
        if param.kind == param.KEYWORD_ONLY:
            assert f"{name}=" in text, f"{where}: register(... {name}=)"
        elif param.kind == param.VAR_KEYWORD:
            assert f"**{name}" in text, f"{where}: register(... **{name})"
    for trigger in TRIGGERS:
        assert f'"{trigger}"' in text, f"{where}: the {trigger!r} trigger"


@pytest.mark.parametrize("method", _public_methods(JobContext))
@pytest.mark.parametrize("where", ["docs", "hookspec"])
def test_every_job_context_method_is_named(method: str, where: str) -> None:
    text = _section("plugbot_register_jobs") if where == "docs" else _docstring("plugbot_register_jobs")
    assert f"job.{method}" in text, f"{where}: job.{method} is not named"


def test_what_the_docs_say_a_handler_has_exists_and_the_hookspec_says_it_too() -> None:
    docs = set(re.findall(r"\bctx\.(\w+)", _section("plugbot_register_handlers")))
    spec = set(re.findall(r"\bctx\.(\w+)", _docstring("plugbot_register_handlers")))
    assert sorted(name for name in docs if not hasattr(Context, name) and name not in _instance_attributes()) == []
    assert sorted(docs - spec) == [], "named in docs/plugin_hooks.md but not in the hookspec docstring"


def _instance_attributes() -> set[str]:
    return set(re.findall(r"self\.(\w+)\s*(?::[^=]+)?=", inspect.getsource(Context.__init__)))


def test_the_public_api_table_lists_exactly_what_framework_exports() -> None:
    import framework

    text = (DOCS.parent / "plugins.md").read_text(encoding="utf-8")
    table = text[text.index("## The public API"):]
    listed = set(re.findall(r"`([A-Za-z_]+)`", "\n".join(line.split("|")[1] for line in table.splitlines()
                                                          if line.startswith("| `"))))
    assert listed == set(framework.__all__)
