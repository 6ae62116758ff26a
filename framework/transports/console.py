"""Console mode: talk to the bot in a terminal, no Telegram account needed.

Two halves share one :class:`ConsoleApi`. It is the application's
:class:`~framework.sender.BotApi`: instead of calling Telegram it prints
what the bot sends (texts, files, numbered buttons) and remembers the last
keyboard. :func:`run_console` turns each typed line into the update
Telegram would send (a message, a ``/command`` with its entity, or — when
the line is just a button number — the ``callback_query`` of pressing that
button) and runs it through the real pipeline, synchronously.
"""
from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from telebot import types

from . import App

logger = logging.getLogger(__name__)

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
# Answered quietly with True: they change nothing a person would see in the chat.
_SILENT = frozenset({"send_chat_action", "set_my_commands", "delete_my_commands", "set_webhook", "delete_webhook"})
_FILES = frozenset({"document", "photo", "video", "audio", "voice", "animation", "sticker", "video_note"})


@dataclass
class Keyboard:
    """The last keyboard the bot showed: its buttons in reading order and the message holding it."""

    kind: str  # "inline" (buttons send callback data) or "reply" (buttons send their text)
    buttons: list[dict[str, Any]]
    message: dict[str, Any]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _markup_dict(markup: Any) -> dict[str, Any] | None:
    """Any reply_markup form (telebot object, dict or JSON string) as a plain dict."""
    if markup is None:
        return None
    if isinstance(markup, dict):
        return markup
    if isinstance(markup, str):
        return json.loads(markup)
    return json.loads(markup.to_json())


def _file_info(data: Any, name: str | None) -> tuple[str | None, int | None, str | None]:
    """(file name, size in bytes, reference) of whatever was passed as a file."""
    if isinstance(data, str):
        return name, None, data  # a file_id or URL Telegram would fetch itself
    if isinstance(data, tuple) and len(data) == 2:
        name, data = name or data[0], data[1]
    if isinstance(data, types.InputFile):
        name, data = name or data.file_name, data.file
    if hasattr(data, "read"):
        name = name or getattr(data, "name", None)
        data = data.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    size = len(data) if isinstance(data, (bytes, bytearray, memoryview)) else None
    return (name.rsplit("/", 1)[-1] if isinstance(name, str) else name), size, None


class ConsoleApi:
    """A :class:`~framework.sender.BotApi` that writes the bot's side of the chat to ``out``.

    Results have the types ``TeleBot`` returns (``Message``, ``User``,
    ``True``), so handlers behave as they would against Telegram.
    """

    def __init__(self, out: TextIO, *, username: str = "console_bot", bot_id: int = 1_000_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.out = out
        self.me = {"id": bot_id, "is_bot": True, "first_name": "Console Bot", "username": username}
        self.keyboard: Keyboard | None = None
        self._clock = clock
        self._ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._messages: dict[tuple[Any, int], dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._handlers = self._routes()

    def next_message_id(self) -> int:
        """Message ids are shared with the console's incoming messages, as in a real chat."""
        with self._lock:
            return next(self._ids)

    def call(self, method: str, **params: Any) -> Any:
        with self._lock:
            if method in _SILENT:
                return True
            if method.startswith("send_") and method[5:] in _FILES:
                return self._send_file(params, method[5:])
            handler = self._handlers.get(method)
            if handler is not None:
                return handler(params)
            self._print(f"[{method}]")
            return None if method.startswith("get_") else True

    def _routes(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "get_me": lambda params: types.User.de_json(dict(self.me)),
            "get_updates": lambda params: [],  # updates come from run_console, never from polling
            "send_message": lambda params: self._send(params, {"text": params.get("text", "")},
                                                      [params.get("text", "")]),
            "edit_message_text": lambda params: self._edit(params, {"text": params.get("text", "")},
                                                           f"[edited] {params.get('text', '')}"),
            "edit_message_caption": lambda params: self._edit(params, {"caption": params.get("caption", "")},
                                                              f"[edited caption] {params.get('caption', '')}"),
            "edit_message_reply_markup": lambda params: self._edit(params, {}, None),
            "answer_callback_query": self._answer,
            "delete_message": self._delete,
        }

    def _answer(self, params: dict[str, Any]) -> bool:
        if params.get("text"):
            self._print("[alert] " if params.get("show_alert") else "[answer] ", params["text"])
        return True

    # -- rendering ----------------------------------------------------------------------

    def _print(self, *parts: str) -> None:
        self.out.write("".join(parts) + "\n")
        self.out.flush()

    def _message(self, chat_id: Any, content: dict[str, Any]) -> dict[str, Any]:
        chat_type = "private" if isinstance(chat_id, int) and chat_id > 0 else "group"
        message = {"message_id": self.next_message_id(), "date": int(self._clock()), "from": dict(self.me),
                   "chat": {"id": chat_id, "type": chat_type}, **content}
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _send(self, params: dict[str, Any], content: dict[str, Any], lines: list[str]) -> types.Message:
        markup = _markup_dict(params.get("reply_markup"))
        if markup and "inline_keyboard" in markup:
            content = {**content, "reply_markup": markup}
        message = self._message(params.get("chat_id"), content)
        for line in lines:
            self._print(line)
        self._show_keyboard(markup, message)
        return types.Message.de_json(message)

    def _send_file(self, params: dict[str, Any], kind: str) -> types.Message:
        name, size, reference = _file_info(params.get(kind), params.get("visible_file_name"))
        file_id = reference or f"console-{kind}-{next(self._file_ids)}"
        described = reference if reference is not None else f"{size} bytes"
        content: dict[str, Any] = {}
        if kind == "document":
            label = f"[document: {name or 'file'}, {described}]"
            content["document"] = {"file_id": file_id, "file_unique_id": file_id,
                                   "file_name": name or "file", "file_size": size}
        else:
            label = f"[{kind}: {described}]"
            if kind == "photo":  # the other media types need fields (duration...) a console cannot know
                content["photo"] = [{"file_id": file_id, "file_unique_id": file_id, "file_size": size,
                                     "width": 0, "height": 0}]
        lines = [label]
        if params.get("caption"):
            content["caption"] = params["caption"]
            lines.append(params["caption"])
        return self._send(params, content, lines)

    def _edit(self, params: dict[str, Any], changes: dict[str, Any], line: str | None) -> Any:
        markup = _markup_dict(params.get("reply_markup"))
        key = (params.get("chat_id"), params.get("message_id"))
        message = self._messages.get(key)
        if message is None:
            message = {"message_id": params.get("message_id"), "date": int(self._clock()),
                       "chat": {"id": params.get("chat_id"), "type": "private"}}
        message.update(changes, edit_date=int(self._clock()))
        # Telegram drops the inline keyboard of an edited message unless a new one is given.
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        if line is not None:
            self._print(line)
        if markup and "inline_keyboard" in markup:
            self._show_keyboard(markup, message)
        elif self.keyboard is not None and self.keyboard.message is message:
            self.keyboard = None
            self._print("[keyboard removed]")
        if params.get("inline_message_id"):
            return True
        return types.Message.de_json(message)

    def _delete(self, params: dict[str, Any]) -> bool:
        key = (params.get("chat_id"), params.get("message_id"))
        message = self._messages.pop(key, None)
        if self.keyboard is not None and message is not None and self.keyboard.message is message:
            self.keyboard = None
        self._print(f"[deleted message {params.get('message_id')}]")
        return True

    def _show_keyboard(self, markup: dict[str, Any] | None, message: dict[str, Any]) -> None:
        if not markup:
            return
        if markup.get("remove_keyboard"):
            if self.keyboard is not None and self.keyboard.kind == "reply":
                self.keyboard = None
            return
        kind = "inline" if "inline_keyboard" in markup else "reply" if "keyboard" in markup else None
        if kind is None:
            return
        rows = markup["inline_keyboard" if kind == "inline" else "keyboard"]
        rows = [[{"text": b} if isinstance(b, str) else b for b in row] for row in rows]
        number = itertools.count(1)
        for row in rows:
            self._print("  ".join(f"[{next(number)}] {button.get('text', '')}" for button in row))
        self.keyboard = Keyboard(kind, [button for row in rows for button in row], message)


class _ConsoleChat:
    """Builds the updates Telegram would send for what the console user types."""

    def __init__(self, api: ConsoleApi, out: TextIO, user_id: int, chat_id: int, first_name: str) -> None:
        self.api = api
        self.out = out
        self.user = {"id": user_id, "is_bot": False, "first_name": first_name}
        if chat_id > 0:
            self.chat = {"id": chat_id, "type": "private", "first_name": first_name}
        else:
            self.chat = {"id": chat_id, "type": "group", "title": "Console"}
        # The pipeline drops update ids it has seen, and the database outlives a console
        # session: start from the current time in microseconds so no session reuses an id.
        self._update_ids = itertools.count(int(time.time() * 1_000_000))
        self._query_ids = itertools.count(1)

    def update_for(self, line: str) -> dict[str, Any] | None:
        """The update for one typed line; ``None`` when it triggers nothing (a URL button)."""
        keyboard = self.api.keyboard
        if line.isdigit() and keyboard is not None and 1 <= int(line) <= len(keyboard.buttons):
            return self._press(int(line), keyboard)
        return self._text(line)

    def _text(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": self.api.next_message_id(), "date": int(time.time()),
                                   "from": dict(self.user), "chat": dict(self.chat), "text": text}
        command = _COMMAND.match(text)
        if command:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())}]
        return {"update_id": next(self._update_ids), "message": message}

    def _press(self, number: int, keyboard: Keyboard) -> dict[str, Any] | None:
        button = keyboard.buttons[number - 1]
        if keyboard.kind == "reply":
            return self._text(button.get("text", ""))
        if "callback_data" not in button:
            target = button.get("url") or "a button without callback data"
            self.out.write(f"[button {number} opens {target}]\n")
            return None
        query = {"id": str(next(self._query_ids)), "from": dict(self.user),
                 "message": copy.deepcopy(keyboard.message),
                 "chat_instance": str(self.chat["id"]), "data": button["callback_data"]}
        return {"update_id": next(self._update_ids), "callback_query": query}


def run_console(app: App, stdin: TextIO, stdout: TextIO, user_id: int = 1, chat_id: int = 1,
                first_name: str = "Console") -> int:
    """Read lines from ``stdin`` until EOF (or ``app.stopping``); return the updates processed.

    ``app.api`` must be a :class:`ConsoleApi` (it prints the replies and
    knows the last keyboard). A failing update is reported on ``stdout``
    and the session goes on.
    """
    if not isinstance(app.api, ConsoleApi):
        raise TypeError("run_console needs app.api to be a ConsoleApi")
    chat = _ConsoleChat(app.api, stdout, user_id, chat_id, first_name)
    interactive = stdin.isatty()
    processed = 0
    while not app.stopping.is_set():
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        update = chat.update_for(text)
        if update is None:
            continue
        try:
            app.process_update(update)
        except Exception as exc:
            logger.exception("console update %s failed", update["update_id"])
            stdout.write(f"[error] {exc.__class__.__name__}: {exc}\n")
        processed += 1
    return processed
