"""Records (chat, sequence number) of every text it receives, and how many chats ran at once."""
from __future__ import annotations

import random
import threading
import time
from typing import Any

from framework import Context, PluginInfo, hookimpl

SEEN: list[tuple[int, int]] = []
_lock = threading.Lock()
_active: set[int] = set()
max_parallel = 0


def reset() -> None:
    global max_parallel
    with _lock:
        SEEN.clear()
        _active.clear()
        max_parallel = 0


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="recorder", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.text(on_text, groups=True)


def on_text(ctx: Context) -> bool:
    global max_parallel
    chat = ctx.chat_id
    with _lock:
        SEEN.append((chat, int(ctx.text)))
        _active.add(chat)
        max_parallel = max(max_parallel, len(_active))
    time.sleep(random.uniform(0, 0.002))
    with _lock:
        _active.discard(chat)
    return True
