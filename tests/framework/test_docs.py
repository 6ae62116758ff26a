"""The plugin author docs stay true: docs/plugin_hooks.md documents every hook of
framework/hookspecs.py with its real signature and an example, code blocks are valid Python,
links resolve, and the test shown in docs/plugins.md passes."""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from framework import hookspecs

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples" / "hello"
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("plugbot_"))
AUTHOR_DOCS = [DOCS / "plugins.md", DOCS / "plugin_hooks.md"]


def sections(text: str) -> dict[str, str]:
    """``### plugbot_x`` heading → the text up to the next heading."""
    parts = re.split(r"^(#{2,3} .+)$", text, flags=re.MULTILINE)
    return {parts[i][4:].strip(): parts[i + 1] for i in range(1, len(parts), 2) if parts[i].startswith("### ")}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


HOOK_SECTIONS = sections((DOCS / "plugin_hooks.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook: str) -> None:
    assert hook in HOOK_SECTIONS, f"docs/plugin_hooks.md has no section for {hook}"
    body = HOOK_SECTIONS[hook]
    examples = python_blocks(body)
    assert examples, f"the {hook} section has no example"
    assert any(f"def {hook}(" in block for block in examples), f"the {hook} example does not implement it"


@pytest.mark.parametrize("hook", HOOKS)
def test_documented_signature_matches_the_hookspec(hook: str) -> None:
    documented = re.search(rf"^`{hook}\((.*?)\)", HOOK_SECTIONS[hook], flags=re.MULTILINE)
    assert documented, f"the {hook} section does not start with its signature"
    names = [part.split(":")[0].strip() for part in documented.group(1).split(",") if part.strip()]
    assert names == list(inspect.signature(getattr(hookspecs, hook)).parameters)


def test_no_section_for_a_hook_that_does_not_exist() -> None:
    assert sorted(name for name in HOOK_SECTIONS if name.startswith("plugbot_")) == HOOKS


@pytest.mark.parametrize("doc", AUTHOR_DOCS, ids=lambda path: path.name)
def test_python_blocks_are_valid_python(doc: Path) -> None:
    for block in python_blocks(doc.read_text(encoding="utf-8")):
        ast.parse(block)


@pytest.mark.parametrize("doc", AUTHOR_DOCS, ids=lambda path: path.name)
def test_relative_links_resolve(doc: Path) -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
        if "://" not in target:
            assert (doc.parent / target).exists(), f"{doc.name} links to a missing {target}"


def test_files_named_in_the_walkthrough_exist() -> None:
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    for name in ("__init__.py", "models.py", "handlers.py", "jobs.py", "migrations/0001_initial.py",
                 "locales/en.yaml", "locales/ru.yaml"):
        assert name.split("/")[-1] in text
        assert (EXAMPLES / "plugbot_hello" / name).exists(), name
    assert (EXAMPLES / "pyproject.toml").read_text().count('hello = "plugbot_hello"') == 1


TEST_BLOCKS = [block for block in python_blocks((DOCS / "plugins.md").read_text(encoding="utf-8"))
               if "def test_" in block]


@pytest.mark.parametrize("block", TEST_BLOCKS, ids=[re.search(r"def (test_\w+)", b).group(1) for b in TEST_BLOCKS])
def test_the_testing_examples_in_the_walkthrough_pass(bot_factory, tmp_path: Path, monkeypatch, block: str) -> None:
    """The example plugin installed (its entry point faked in ``tmp_path``), each of the doc's tests runs as written."""
    dist = tmp_path / "plugbot_hello-1.0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugbot_hello\nVersion: 1.0.0\n")
    (dist / "entry_points.txt").write_text("[plugbot.plugins]\nhello = plugbot_hello\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    namespace: dict[str, object] = {}
    exec(compile(block, "docs/plugins.md", "exec"), namespace)
    tests = [fn for name, fn in namespace.items() if name.startswith("test_")]
    assert len(tests) == 1
    tests[0](bot_factory)
