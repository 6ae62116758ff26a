"""4. Telegram misbehaves: bursts of 429 with retry_after, 502s, hanging requests, dropped
connections -- on replies and on getUpdates.

The bot (echo plugin, Telegram's pacing switched on) runs as its own process in polling mode
against the fake Bot API server, which injects the faults. Every reply must arrive exactly
once, no chat may be written to before its retry_after has passed, and the pacing limits must
hold. The bot logs at DEBUG level; the token must not appear in what it wrote.

A fault hits a request *before* it takes effect (see benchmarks/fakeapi.py): a timed-out
sendMessage was not delivered, so resending it is right and exactly-once is checkable.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any

from reliability_helpers import ROOT, BotProcess

from benchmarks.fakeapi import FakeApiProcess
from benchmarks.services import Storage, bot_config, write_config
from benchmarks.workloads import UpdateFactory

TOKEN = "987654321:RELIABILITY-secret-token-never-logged"
PRIVATE_INTERVAL = 0.25   # seconds between two messages to one chat (Telegram: 1 s; shortened for time)
GLOBAL_PER_SECOND = 30    # Telegram's global limit, unchanged


def token_leaks(text: str) -> list[str]:
    """Every form of the token that appears in ``text``."""
    from urllib.parse import quote

    secret = TOKEN.split(":", 1)[1]
    return [form for form in (TOKEN, quote(TOKEN, safe=""), secret) if form in text]


def _pacing_violations(replies: list[list[Any]]) -> tuple[int, int]:
    """(per-chat intervals shorter than allowed, max sendMessages in any 1-second window)."""
    by_chat: dict[Any, list[float]] = defaultdict(list)
    times = sorted(r[3] for r in replies if r[0] == "sendMessage")
    for method, chat, _, when in replies:
        if method == "sendMessage":
            by_chat[chat].append(when)
    too_close = 0
    for stamps in by_chat.values():
        stamps.sort()
        # Arrival times at the server carry network jitter; no pacing at all would show gaps near 0.
        too_close += sum(1 for a, b in zip(stamps, stamps[1:], strict=False) if b - a < PRIVATE_INTERVAL * 0.5)
    peak, start = 0, 0
    for end, when in enumerate(times):
        while when - times[start] > 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return too_close, peak


def test_telegram_misbehaves(tmp_path: Any, ledger: Any, full: bool) -> None:
    users, per_user = (24, 10) if full else (10, 5)
    factory = UpdateFactory(first_update_id=1)
    updates = [factory.message(u, f"echo-{u}-{k}") for k in range(per_user) for u in range(users)]
    expected = {(update["message"]["chat"]["id"], update["message"]["text"]) for update in updates}
    store = Storage("sqlite", f"sqlite:///{tmp_path}/bot.db")
    with FakeApiProcess(cwd=str(ROOT)) as server:
        config = bot_config(store, workers=4, plugins={"echo": {"module": "benchmarks.echo_plugin"}},
                            api_url=server.url, token=TOKEN, log_level="DEBUG",
                            sender={"global_per_second": GLOBAL_PER_SECOND, "private_interval": PRIVATE_INTERVAL,
                                    "group_per_minute": 20, "max_retries": 5})
        path = write_config(config, str(tmp_path / "bot.yaml"))
        plan = server.faults(p429=0.08, p502=0.08, ptimeout=0.03, pdrop=0.05, retry_after=1, timeout_seconds=2.5,
                             burst_every=5.0, burst_length=0.5, methods="all", max_per_message=3, seed=7)
        server.load(updates)
        bot = BotProcess(path, str(tmp_path / "bot.log"), runner=True, extra=["--read-timeout", "1.5"])
        bot.start()
        try:
            stats = server.wait(lambda s: s["confirmed_all_at"] is not None or not bot.alive(), timeout=240)
            replies = server.replies()
        finally:
            code = bot.terminate()
        stats = server.stats()
    log = bot.log()
    delivered: dict[tuple[Any, str], int] = defaultdict(int)
    for method, chat, text, _ in replies:
        if method == "sendMessage":
            delivered[(chat, text)] += 1
    missing = len(expected - set(delivered))
    duplicates = sum(count - 1 for count in delivered.values() if count > 1)
    unexpected = len(set(delivered) - expected)
    too_close, peak = _pacing_violations(replies)
    leaks = token_leaks(log)
    tracebacks = log.count("Traceback")
    injected = sum(stats["faults"].values())
    ledger.record("telegram misbehaves", sent=len(updates),
                  failures=unexpected + stats["violations"] + too_close + len(leaks) + tracebacks + int(code != 0),
                  lost=missing, duplicates=duplicates,
                  note=f"{injected} faults injected {json.dumps(stats['faults'], sort_keys=True)}")
    assert injected > 0 and plan["p429"] > 0
    assert stats["confirmed_all_at"] is not None, "the bot never finished the updates"
    assert missing == 0, f"{missing} replies never delivered"
    assert duplicates == 0, f"{duplicates} replies delivered twice"
    assert unexpected == 0
    assert stats["violations"] == 0, "a chat was written to before its retry_after passed"
    assert too_close == 0, "two messages to one chat closer than the private-chat interval"
    assert peak <= 2 * GLOBAL_PER_SECOND, f"{peak} messages within one second"
    assert not leaks, f"the token appeared in the bot's log: {leaks}"
    assert tracebacks == 0, "the bot logged a traceback"
    assert code == 0, f"the bot exited with {code}"
    assert os.path.getsize(tmp_path / "bot.log") > 0, "the bot wrote no log at all"
