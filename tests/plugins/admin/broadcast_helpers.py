"""Helpers of the stats, broadcast and backup tests (a module name no other test folder uses): a Telegram
that refuses some chats (403), asks once to slow down (429) or dies mid-broadcast, and users in bulk."""
from __future__ import annotations

import threading
import time
from typing import Any

from telebot import apihelper

from framework import User, connection_scope

SUPERADMIN = 999


class ProcessDied(BaseException):
    """Raised inside the sending thread: the process is gone at that instant (nothing catches it)."""


def telegram_error(code: int, description: str, **parameters: Any) -> apihelper.ApiTelegramException:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return apihelper.ApiTelegramException("sendMessage", None, body)


class Telegram:
    """Wraps a test bot's FakeTelegram: ``blocked`` chats answer 403, the ``flood_at``-th broadcast
    message answers 429 once, the process dies at the ``die_at``-th, each send takes ``delay``."""

    def __init__(self, bot: Any, text: str, *, blocked: set[int] = frozenset(), flood_at: int | None = None,
                 retry_after: float = 1.0, die_at: int | None = None, delay: float = 0.0) -> None:
        self.real = bot.telegram.call
        self.text = text
        self.blocked, self.flood_at, self.retry_after, self.die_at, self.delay = (
            blocked, flood_at, retry_after, die_at, delay)
        self.attempts = 0
        self.moments: list[tuple[float, str]] = []   # (monotonic time, what happened) of broadcast sends
        self._lock = threading.Lock()
        bot.telegram.call = self

    def __call__(self, method: str, **params: Any) -> Any:
        if method == "send_message" and params.get("text") == self.text:
            with self._lock:
                self.attempts += 1
                attempt = self.attempts
            if self.delay:
                time.sleep(self.delay)
            if attempt == self.die_at:
                raise ProcessDied()
            if attempt == self.flood_at:
                self.moments.append((time.monotonic(), "429"))
                raise telegram_error(429, "Too Many Requests: retry after 1", retry_after=self.retry_after)
            if params["chat_id"] in self.blocked:
                self.moments.append((time.monotonic(), "403"))
                raise telegram_error(403, "Forbidden: bot was blocked by the user")
            self.moments.append((time.monotonic(), "sent"))
        return self.real(method, **params)


def add_users(first: int, count: int) -> list[int]:
    """Users who wrote to the bot before (rows as the core's upsert leaves them)."""
    ids = list(range(first, first + count))
    with connection_scope():
        User.insert_many([{"telegram_id": i, "first_name": f"User{i}"} for i in ids]).execute()
    return ids


def received(bot: Any, text: str) -> dict[int, int]:
    """How many copies of ``text`` each chat got from this bot."""
    got: dict[int, int] = {}
    for call in bot.telegram.calls:
        if call.method == "send_message" and call.text == text:
            got[call.chat_id] = got.get(call.chat_id, 0) + 1
    return got
