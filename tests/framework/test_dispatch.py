from __future__ import annotations

import random
import sys
import threading
import time
from collections import defaultdict

import pytest

from framework.dispatch import ChatDispatcher, DispatcherStopped
from framework.testing import eventually


def test_per_key_order_with_real_parallelism() -> None:
    rng = random.Random(7)
    submitted: dict[int, list[int]] = defaultdict(list)
    handled: dict[int, list[int]] = defaultdict(list)
    lock = threading.Lock()
    active_keys: set[int] = set()
    running = 0
    max_running = 0
    overlapping_same_key = []

    def handle(item: tuple[int, int, float]) -> None:
        nonlocal running, max_running
        key, number, pause = item
        with lock:
            if key in active_keys:
                overlapping_same_key.append(key)
            active_keys.add(key)
            running += 1
            max_running = max(max_running, running)
        time.sleep(pause)
        with lock:
            handled[key].append(number)
            active_keys.discard(key)
            running -= 1

    dispatcher = ChatDispatcher(handle, workers=8)
    for number in range(2000):
        key = rng.randrange(50)
        submitted[key].append(number)
        dispatcher.submit(key, (key, number, rng.random() / 2000))
    assert dispatcher.join(timeout=60)
    dispatcher.stop()

    assert handled == submitted  # every item, in submission order per key
    assert sum(len(items) for items in handled.values()) == 2000
    assert overlapping_same_key == []  # a key is never handled by two workers at once
    assert max_running > 1  # different keys did run in parallel
    assert dispatcher.pending == 0


def test_handler_exception_is_logged_and_worker_survives(caplog) -> None:
    handled = []

    def handle(item: int) -> None:
        if item == 0:
            raise RuntimeError("boom")
        handled.append(item)

    dispatcher = ChatDispatcher(handle, workers=1)
    for item in range(3):
        dispatcher.submit("chat", item)
    assert dispatcher.join(timeout=10)
    dispatcher.stop()
    assert handled == [1, 2]
    assert "dispatcher handler failed for key 'chat'" in caplog.text
    assert "boom" in caplog.text


def test_join_waits_for_work_submitted_before_it() -> None:
    release = threading.Event()
    started = threading.Event()

    def handle(item: str) -> None:
        if item == "slow":
            started.set()
            release.wait(10)

    dispatcher = ChatDispatcher(handle, workers=2)
    dispatcher.submit(1, "slow")
    dispatcher.submit(1, "after-slow")
    assert started.wait(10)
    assert dispatcher.pending == 2
    assert dispatcher.join(timeout=0.01) is False
    release.set()
    assert dispatcher.join(timeout=10) is True
    assert dispatcher.pending == 0
    dispatcher.stop()


def test_join_does_not_wait_for_work_submitted_after_it() -> None:
    """The polling loop joins after each batch; a stream of new updates must not hold it forever."""
    gates = {"early": threading.Event(), "late": threading.Event()}
    started = {name: threading.Event() for name in gates}

    def handle(item: str) -> None:
        started[item].set()
        gates[item].wait(10)

    dispatcher = ChatDispatcher(handle, workers=2)
    dispatcher.submit(1, "early")
    assert started["early"].wait(10)
    joined: list[bool] = []
    joiner = threading.Thread(target=lambda: joined.append(dispatcher.join(timeout=10)))
    joiner.start()
    assert eventually(lambda: _waiting_in(joiner, "wait_for"))  # join() has taken its target
    dispatcher.submit(2, "late")  # submitted while join() waits
    assert started["late"].wait(10)
    gates["early"].set()
    joiner.join(10)
    assert joined == [True] and dispatcher.pending == 1  # "late" still running
    gates["late"].set()
    assert dispatcher.join(timeout=10)
    dispatcher.stop()


def test_stop_finishes_queued_work_then_refuses_more() -> None:
    handled = []
    gate = threading.Event()

    def handle(item: int) -> None:
        gate.wait(10)
        handled.append(item)

    dispatcher = ChatDispatcher(handle, workers=3)
    for item in range(30):
        dispatcher.submit(item % 4, item)
    gate.set()
    dispatcher.stop()
    assert sorted(handled) == list(range(30))
    with pytest.raises(DispatcherStopped):
        dispatcher.submit(1, 99)


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ChatDispatcher(lambda item: None, workers=0)


def _waiting_in(thread: threading.Thread, function: str) -> bool:
    """Whether ``thread`` is inside ``function`` now (read off its live stack)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


