"""Console mode end to end: typed lines go through the real application and pipeline
(``python -m framework console`` and :func:`framework.transports.console.run_console`),
buttons are shown numbered and a number presses one. The transport's own unit tests are in
test_console.py."""
from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framework import cli, create_app, load_config
from framework.config import ENV_OVERRIDES
from framework.transports.console import ConsoleApi, run_console

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for var in ENV_OVERRIDES:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Any]:
    """``console(lines) -> transcript``: one application, one console session per call."""
    out = io.StringIO()
    config = load_config(None, env={}, overrides={
        "database": {"url": f"sqlite:///{tmp_path}/bot.db"},
        "sender": {"global_per_second": 0, "private_interval": 0.0, "group_per_minute": 0},
        "plugins": {"hello": {"module": "plugbot_hello"}}})
    app = create_app(config, api=ConsoleApi(out))
    app.start(scheduler=False)

    def talk(*lines: str, chat_id: int = 1) -> list[str]:
        start = out.tell()
        run_console(app, io.StringIO("".join(line + "\n" for line in lines)), out, chat_id=chat_id)
        return out.getvalue()[start:].splitlines()

    talk.app = app
    yield talk
    app.stop()


def nickname_in(db_file: Path) -> str | None:
    with sqlite3.connect(db_file) as conn:
        row = conn.execute("SELECT nickname FROM hello_greetings").fetchone()
    return row[0] if row else None


def test_buttons_are_numbered_and_a_number_presses_one(console, tmp_path: Path) -> None:
    assert console("/nickname", "Bob") == [
        "How should I call you? Send a nickname, or /cancel.",
        "Call you “Bob”?",
        "[1] Yes  [2] No",
    ]
    assert console("1") == ["[edited] Done: I'll call you Bob.", "[keyboard removed]"]
    assert console("/hello") == ["👋 Hello, Bob! That's greeting #1."]
    assert nickname_in(tmp_path / "bot.db") == "Bob"


def test_the_second_button_goes_back_a_step(console, tmp_path: Path) -> None:
    console("/nickname", "Bob")
    assert console("2") == ["[edited] How should I call you? Send a nickname, or /cancel.", "[keyboard removed]"]
    assert console("Alice", "1")[-2:] == ["[edited] Done: I'll call you Alice.", "[keyboard removed]"]
    assert nickname_in(tmp_path / "bot.db") == "Alice"


def test_a_number_without_a_keyboard_is_plain_text(console, tmp_path: Path) -> None:
    assert console("/nickname", "7")[1:] == ["Call you “7”?", "[1] Yes  [2] No"]
    assert console("3")[0] == "Please answer with the buttons above, or /cancel."  # no third button
    console("1")
    assert nickname_in(tmp_path / "bot.db") == "7"


def test_cancel_leaves_the_conversation(console, tmp_path: Path) -> None:
    console("/nickname")
    assert console("/cancel") == ["Cancelled."]
    # plain text outside any conversation: no plugin takes it, the core points at /help
    assert console("Bob") == ["I did not understand that. Send /help to see what I can do."]
    assert nickname_in(tmp_path / "bot.db") is None


def test_commands_addressed_to_the_console_bot_or_another(console) -> None:
    assert console("/hello@console_bot") == ["👋 Hello, Console! That's greeting #1."]
    assert console("/hello@otherbot", chat_id=-5) == []
    assert console("/hello", chat_id=-5) == ["👋 Hello, Console! That's greeting #2."]


def test_help_lists_the_example_plugin_commands(console) -> None:
    transcript = "\n".join(console("/help"))
    for line in ("/hello — say hello", "/nickname — choose how I call you",
                 "/morning — good-morning messages on|off"):
        assert line in transcript


def test_console_command_reads_stdin_until_eof(tmp_path: Path, monkeypatch, capsys) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path}/bot.db\nplugins:\n  hello:\n    module: plugbot_hello\n")
    monkeypatch.setattr(cli, "_logging", lambda config: None)  # keep pytest's logging set-up
    monkeypatch.setattr("sys.stdin", io.StringIO("/nickname\nBob\n1\n/hello\n"))
    assert cli.main(["--config", str(config), "console"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("plugbot console:")
    assert lines[1:] == [
        "How should I call you? Send a nickname, or /cancel.",
        "Call you “Bob”?",
        "[1] Yes  [2] No",
        "[edited] Done: I'll call you Bob.",
        "[keyboard removed]",
        "👋 Hello, Bob! That's greeting #1.",
    ]
