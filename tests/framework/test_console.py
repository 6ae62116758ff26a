from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from telebot import types

from framework.sender import Sender
from framework.transports.console import ConsoleApi, run_console


class EchoApp:
    """A stand-in application: answers a few commands through the real Sender and ConsoleApi."""

    def __init__(self, out: io.StringIO) -> None:
        self.api = ConsoleApi(out)
        self.sender = Sender(self.api, global_per_second=None, private_interval=None, group_per_minute=None)
        self.stopping = threading.Event()
        self.config: dict[str, Any] = {}
        self.updates: list[dict[str, Any]] = []
        self.results: list[Any] = []

    def process_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        if "callback_query" in update:
            query = update["callback_query"]
            self.sender.call("answer_callback_query", callback_query_id=query["id"], text=f"pressed {query['data']}")
            self.sender.call("edit_message_text", chat_id=query["message"]["chat"]["id"],
                             message_id=query["message"]["message_id"], text=f"chosen: {query['data']}")
            return
        message = update["message"]
        chat_id, text = message["chat"]["id"], message["text"]
        if text == "/menu":
            markup = types.InlineKeyboardMarkup()
            markup.row(types.InlineKeyboardButton("Confirm", callback_data="yes"),
                       types.InlineKeyboardButton("Cancel", callback_data="no"))
            markup.row(types.InlineKeyboardButton("Docs", url="https://example.org/docs"))
            self.results.append(self.sender.call("send_message", chat_id=chat_id, text="Sure?", reply_markup=markup))
        elif text == "/photo":
            self.results.append(self.sender.call("send_photo", chat_id=chat_id, photo=b"\x89PNG" * 10,
                                                 caption="a chart"))
        elif text == "/doc":
            self.results.append(self.sender.call("send_document", chat_id=chat_id, document=b"a,b\n1,2\n",
                                                 visible_file_name="export.csv"))
        elif text == "/ask":
            markup = types.ReplyKeyboardMarkup(one_time_keyboard=True)
            markup.row("Yes", "No")
            self.sender.call("send_message", chat_id=chat_id, text="Really?", reply_markup=markup)
        elif text == "boom":
            raise RuntimeError("handler exploded")
        else:
            self.sender.call("send_message", chat_id=chat_id, text=f"echo: {text}")


def run(lines: list[str]) -> tuple[EchoApp, list[str], int]:
    out = io.StringIO()
    app = EchoApp(out)
    count = run_console(app, io.StringIO("".join(line + "\n" for line in lines)), out, user_id=42, chat_id=42,
                        first_name="Ada")
    return app, out.getvalue().splitlines(), count


def test_transcript_with_keyboard_press_and_edit() -> None:
    app, output, count = run(["hello", "/menu", "1", "", "3", "7"])
    assert output == [
        "echo: hello",
        "Sure?",
        "[1] Confirm  [2] Cancel",
        "[3] Docs",
        "[answer] pressed yes",
        "[edited] chosen: yes",
        "[keyboard removed]",  # the edit carried no markup, so Telegram drops the keyboard
        "echo: 3",  # no keyboard any more: a number is just text
        "echo: 7",
    ]
    assert count == 5  # the blank line is skipped


def test_message_updates_look_like_telegram() -> None:
    app, _, _ = run(["/start@console_bot now", "plain"])
    first, second = app.updates
    assert second["update_id"] == first["update_id"] + 1
    message = first["message"]
    assert message["text"] == "/start@console_bot now"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": len("/start@console_bot")}]
    assert message["from"] == {"id": 42, "is_bot": False, "first_name": "Ada"}
    assert message["chat"] == {"id": 42, "type": "private", "first_name": "Ada"}
    assert isinstance(message["date"], int)
    assert "entities" not in second["message"]
    assert second["message"]["message_id"] > message["message_id"]
    parsed = types.Update.de_json(first)  # what the pipeline will do with it
    assert parsed.message.text.startswith("/start")


def test_button_press_becomes_a_callback_query_for_that_message() -> None:
    app, output, _ = run(["/menu", "2"])
    sent = app.results[0]
    assert isinstance(sent, types.Message) and sent.text == "Sure?"
    query = app.updates[1]["callback_query"]
    assert query["data"] == "no"
    assert query["from"]["id"] == 42
    assert query["message"]["message_id"] == sent.message_id
    assert query["message"]["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "no"
    assert types.Update.de_json(app.updates[1]).callback_query.message.text == "Sure?"


def test_url_button_opens_nothing() -> None:
    app, output, count = run(["/menu", "3"])
    assert output[-1] == "[button 3 opens https://example.org/docs]"
    assert count == 1


def test_reply_keyboard_buttons_send_their_text() -> None:
    app, output, _ = run(["/ask", "2"])
    assert output[:2] == ["Really?", "[1] Yes  [2] No"]
    assert app.updates[1]["message"]["text"] == "No"
    assert output[-1] == "echo: No"


def test_files_are_described_and_results_are_messages() -> None:
    app, output, _ = run(["/photo", "/doc"])
    assert output == ["[photo: 40 bytes]", "a chart", "[document: export.csv, 8 bytes]"]
    photo, document = app.results
    assert photo.content_type == "photo" and photo.caption == "a chart"
    assert document.document.file_name == "export.csv" and document.document.file_size == 8


def test_a_failing_update_is_reported_and_the_session_goes_on() -> None:
    app, output, count = run(["boom", "still here"])
    assert output == ["[error] RuntimeError: handler exploded", "echo: still here"]
    assert count == 2


def test_console_api_answers_like_telebot() -> None:
    out = io.StringIO()
    api = ConsoleApi(out)
    me = api.call("get_me")
    assert isinstance(me, types.User) and me.username == "console_bot" and me.is_bot
    assert api.call("send_chat_action", chat_id=1, action="typing") is True
    assert api.call("set_my_commands", commands=[]) is True
    assert api.call("get_updates", offset=None) == []
    assert api.call("delete_message", chat_id=1, message_id=5) is True
    assert api.call("answer_callback_query", callback_query_id="1") is True
    assert out.getvalue() == "[deleted message 5]\n"


def test_sessions_never_reuse_update_ids() -> None:
    # The pipeline's exactly-once guard outlives a session (it is in the database).
    first, _, _ = run(["a", "b"])
    second, _, _ = run(["c"])
    assert second.updates[0]["update_id"] > first.updates[-1]["update_id"]


def test_stops_when_the_app_is_stopping() -> None:
    out = io.StringIO()
    app = EchoApp(out)
    app.stopping.set()
    assert run_console(app, io.StringIO("hello\n"), out) == 0
    assert out.getvalue() == ""


def test_needs_a_console_api() -> None:
    app = EchoApp(io.StringIO())
    app.api = object()  # type: ignore[assignment]
    with pytest.raises(TypeError, match="ConsoleApi"):
        run_console(app, io.StringIO(""), io.StringIO())
