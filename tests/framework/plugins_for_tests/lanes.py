"""Answers every text with "got <text>" and records which texts each chat's handler saw, in the
order it saw them; a text starting with "hold" waits until the test sets :data:`released`
(a busy chat), so the queue tests can see what runs meanwhile."""
from __future__ import annotations

import threading
import time
from typing import Any

from framework import Context, PluginInfo, hookimpl

SEEN: dict[int, list[str]] = {}
_lock = threading.Lock()
released = threading.Event()
released.set()
pause = 0.0  # seconds each text takes: widens the window in which two workers could meet on one chat


def reset() -> None:
    global pause
    with _lock:
        SEEN.clear()
    released.set()
    pause = 0.0


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="lanes", version="0.1.0", description="records each chat's texts in order")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.text(answer)


def answer(ctx: Context) -> bool:
    if ctx.text.startswith("hold"):
        released.wait(30)
    time.sleep(pause)
    with _lock:
        SEEN.setdefault(ctx.chat_id, []).append(ctx.text)
    ctx.reply(f"got {ctx.text}")
    return True
