"""Answers every text with "got <text>" and records which texts each chat's handler saw, in the
order it saw them; a text starting with "hold" waits until the test sets :data:`released`
(a busy chat), so the queue tests can see what runs meanwhile."""
from __future__ import annotations

import threading
from typing import Any

from framework import Context, PluginInfo, hookimpl

SEEN: dict[int, list[str]] = {}
_lock = threading.Lock()
released = threading.Event()
released.set()


def reset() -> None:
    with _lock:
        SEEN.clear()
    released.set()


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="lanes", version="0.1.0", description="records each chat's texts in order")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.text(answer)


def answer(ctx: Context) -> bool:
    if ctx.text.startswith("hold"):
        released.wait(30)
    with _lock:
        SEEN.setdefault(ctx.chat_id, []).append(ctx.text)
    ctx.reply(f"got {ctx.text}")
    return True
