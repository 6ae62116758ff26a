"""How updates reach the application: long polling, a webhook, or a console.

Each transport only needs the small surface below, so it can be tested with
a fake object and never imports the application module.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from ..sender import BotApi, Sender


class App(Protocol):
    """The part of the application a transport uses."""

    api: BotApi
    sender: Sender
    config: Mapping[str, Any]
    stopping: threading.Event

    def feed(self, update: dict[str, Any]) -> None:
        """Store one raw Telegram update durably (framework.update_queue); raises if it could not be."""

    def feed_many(self, updates: list[dict[str, Any]]) -> None:
        """Store a batch of raw updates durably in one transaction."""

    def backlog(self) -> int:
        """Updates stored and not processed yet, by every process."""

    def process_update(self, update: dict[str, Any]) -> None:
        """Run one raw update through the pipeline, synchronously."""

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every update fed so far was processed."""
