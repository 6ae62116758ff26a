"""A worker pool that keeps the order of work per key, in one process.

Updates themselves go through the durable queue (``framework.update_queue``), which keeps each
chat's order across processes; this pool runs the queue's fast path (pre-checkout queries,
keyed by update id) on threads of their own.

Design: each key has a deque of waiting items, and a shared *ready* queue
holds the keys that have work and no owner. A worker takes a key from the
ready queue, owns it while it handles exactly one item, then puts the key
back at the end of the ready queue if more items are waiting. So a key is
never handled by two workers at once (order), and a chat flooding the bot
gets one turn in a round robin instead of starving the others (fairness).
"""
from __future__ import annotations

import heapq
import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

logger = logging.getLogger(__name__)


class DispatcherStopped(RuntimeError):
    """Work was submitted after :meth:`ChatDispatcher.stop`."""


class ChatDispatcher:
    """Run ``handle(item)`` on ``workers`` threads, in submission order per key."""

    def __init__(self, handle: Callable[[Any], None], workers: int, name: str = "plugbot") -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._handle = handle
        self._cond = threading.Condition()
        self._queues: dict[Hashable, deque[tuple[int, Any]]] = {}  # key → waiting items; present while owned
        self._ready: deque[Hashable] = deque()
        self._next_seq = 0
        self._unfinished: list[int] = []  # heap of submitted, not finished sequence numbers
        self._finished: set[int] = set()  # finished ones still inside the heap (lazy removal)
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-worker-{n}", daemon=True) for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pending(self) -> int:
        """Items submitted and not finished yet (waiting or being handled)."""
        with self._cond:
            return len(self._unfinished) - len(self._finished)

    def submit(self, key: Hashable, item: Any) -> None:
        """Queue ``item`` behind every earlier item of the same ``key``."""
        with self._cond:
            if self._stopping:
                raise DispatcherStopped("the dispatcher is stopped")
            seq = self._next_seq
            self._next_seq += 1
            heapq.heappush(self._unfinished, seq)
            waiting = self._queues.get(key)
            if waiting is None:
                self._queues[key] = deque([(seq, item)])
                self._ready.append(key)
                self._cond.notify_all()
            else:
                waiting.append((seq, item))

    def join(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted before this call is handled.

        Later submissions are not waited for, so a steady stream of new work
        cannot keep the caller (e.g. the polling loop) waiting forever.
        Returns ``False`` if ``timeout`` expired first.
        """
        with self._cond:
            target = self._next_seq
            return self._cond.wait_for(lambda: self._oldest_unfinished() >= target, timeout)

    def stop(self) -> None:
        """Finish all queued work, then end the worker threads; later submits fail."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    # -- workers ---------------------------------------------------------------

    def _oldest_unfinished(self) -> int:
        while self._unfinished and self._unfinished[0] in self._finished:
            self._finished.remove(heapq.heappop(self._unfinished))
        return self._unfinished[0] if self._unfinished else self._next_seq

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._stopping:
                    self._cond.wait()
                if not self._ready:
                    return  # stopping, and no key has waiting work
                key = self._ready.popleft()
                seq, item = self._queues[key].popleft()
            try:
                self._handle(item)
            except Exception:
                logger.exception("dispatcher handler failed for key %r", key)
            with self._cond:
                self._finished.add(seq)
                if self._queues[key]:
                    self._ready.append(key)
                else:
                    del self._queues[key]
                self._cond.notify_all()
