"""Middleware: code around every hello handler, and only hello's (``register.middleware``)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from framework import Context

log = logging.getLogger(__name__)


def keep_quiet(ctx: Context, call_next: Callable[[], Any]) -> Any:
    """Keep quiet in the group chats listed in ``quiet_chats``: not calling ``call_next`` stops the update."""
    if str(ctx.chat_id) in {str(chat) for chat in ctx.settings["quiet_chats"]}:
        return None
    return call_next()


def leave_failed_conversation(ctx: Context, call_next: Callable[[], Any]) -> Any:
    """A /nickname step that failed leaves the conversation, so the next message starts afresh
    instead of hitting the same failing step again. The error still reaches the core, which
    rolls the update back and apologises; the session change made here is kept."""
    try:
        return call_next()
    except Exception as exc:
        if ctx.session.state is not None:
            log.warning("leaving /nickname for user %s after %s", ctx.telegram_id, exc.__class__.__name__)
            ctx.session.end()
        raise
