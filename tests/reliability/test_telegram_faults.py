"""4. Telegram misbehaves: bursts of 429 with retry_after, 502s, hanging requests, dropped
connections -- on replies and on getUpdates.

The bot runs as its own process in polling mode against the fake Bot API server, which injects
the faults. Two runs:

* every method faulted (echo plugin, Telegram's pacing switched on): every reply must arrive
  exactly once, no chat may be written to before its retry_after has passed, and the pacing
  limits must hold. The bot logs at DEBUG level; the token must not appear in what it wrote.
* only getUpdates faulted (expenses plugin, ``python -m framework run``), while quick-adds are
  released a few a second: random 429s, 502s, hanging and dropped long polls, in the full run
  long polls answered only after the bot's read timeout (so the batch is delivered again), and
  one flood-wait window in which every getUpdates gets a 429. Every quick-add must be stored
  and answered exactly once, no getUpdates may come before its retry_after has passed, the
  window must see only a few getUpdates, and the bot must come back by itself right after it.

A fault hits a request *before* it takes effect (see benchmarks/fakeapi.py): a timed-out
sendMessage was not delivered, so resending it is right and exactly-once is checkable.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections import Counter, defaultdict
from typing import Any

from reliability_helpers import ROOT, BotProcess, stored_amounts

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
            stats = server.wait(lambda s: bot.done(s) or not bot.alive(), timeout=240)
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
                  failures=unexpected + stats["violations"] + stats["poll_violations"] + too_close + len(leaks)
                  + tracebacks + int(code != 0),
                  lost=missing, duplicates=duplicates,
                  note=f"{injected} faults injected {json.dumps(stats['faults'], sort_keys=True)}")
    assert injected > 0 and plan["p429"] > 0
    assert stats["confirmed_all_at"] is not None, "the bot never finished the updates"
    assert missing == 0, f"{missing} replies never delivered"
    assert duplicates == 0, f"{duplicates} replies delivered twice"
    assert unexpected == 0
    assert stats["violations"] == 0, "a chat was written to before its retry_after passed"
    assert stats["poll_violations"] == 0, "getUpdates was called before its retry_after passed"
    assert too_close == 0, "two messages to one chat closer than the private-chat interval"
    assert peak <= 2 * GLOBAL_PER_SECOND, f"{peak} messages within one second"
    assert not leaks, f"the token appeared in the bot's log: {leaks}"
    assert tracebacks == 0, "the bot logged a traceback"
    assert code == 0, f"the bot exited with {code}"
    assert os.path.getsize(tmp_path / "bot.log") > 0, "the bot wrote no log at all"


SAVED = re.compile(r"Saved: \$(\d+\.\d\d)")
FLOOD_RETRY_AFTER = 3   # what every 429 on getUpdates asks for: more than the poller's first backoff (1 s)
BOT_READ_TIMEOUT = 6    # the bot's client-side limit for one long poll: polling timeout 1 s + 5 s
# The first getUpdates after the faults are set, in order ("-": answered), before and after the
# flood window (whose 429s come on top): every kind at least once, whatever the timing. The full
# run adds a lone 429, two long polls answered after the bot gave up, back-to-back failures (the
# backoff doubles), then random faults.
SCRIPT = ["502", "-", "drop", "-", "timeout", "-"]
SCRIPT_FULL = [*SCRIPT, "429", "-", "slow", "-", "502", "502", "-", "drop", "timeout", "-", "slow", "-"]


def _quick_adds(users: int, per_user: int) -> tuple[list[dict[str, Any]], set[tuple[int, str]]]:
    """Quick-adds with amounts unique across the run, and the (chat, amount) pairs they should store."""
    factory = UpdateFactory(first_update_id=1)
    updates, expected = [], set()
    for k in range(users * per_user):
        amount = f"{1 + k // 100}.{k % 100:02d}"
        update = factory.message(k % users, f"coffee {amount}")
        updates.append(update)
        expected.add((update["message"]["chat"]["id"], amount))
    return updates, expected


def _answers(replies: list[list[Any]], expected: set[tuple[int, str]]) -> tuple[int, int, int]:
    """(updates never answered, answered more than once, replies that are no quick-add's answer)."""
    seen: Counter = Counter()
    wrong = 0
    for method, chat, text, _ in replies:
        match = SAVED.search(text or "") if method == "sendMessage" else None
        if match is None or (chat, match.group(1)) not in expected:
            wrong += 1
        else:
            seen[(chat, match.group(1))] += 1
    return len(expected - seen.keys()), sum(n - 1 for n in seen.values() if n > 1), wrong


def test_get_updates_faults(tmp_path: Any, ledger: Any, full: bool) -> None:
    # Updates keep coming before, during and after the flood window, which starts after the scripted faults.
    users, per_user, rate = (20, 10, 8.0) if full else (12, 5, 6.0)
    flood_at, flood_seconds = (12.0, 9.0) if full else (4.5, 5.0)
    updates, expected = _quick_adds(users, per_user)
    url = f"sqlite:///{tmp_path}/bot.db"
    with FakeApiProcess(cwd=str(ROOT)) as server:
        config = bot_config(Storage("sqlite", url), workers=4, plugins={"expenses": {"charts": False}},
                            api_url=server.url, token=TOKEN, log_level="INFO")
        path = write_config(config, str(tmp_path / "bot.yaml"))
        server.load(updates, rate=rate)   # released from the first getUpdates on, a few a second
        bot = BotProcess(path, str(tmp_path / "bot.log"))
        bot.start()
        try:
            server.wait(lambda s: s["requests"].get("getUpdates") or not bot.alive(), timeout=60, interval=0.05)
            chances = {"p429": 0.03, "p502": 0.05, "ptimeout": 0.02, "pdrop": 0.05} if full else {}
            server.faults(**chances, updates_script=SCRIPT_FULL if full else SCRIPT, retry_after=FLOOD_RETRY_AFTER,
                          timeout_seconds=1.5, slow_seconds=BOT_READ_TIMEOUT + 1, flood_at=flood_at,
                          flood_seconds=flood_seconds, methods="updates", max_per_message=2, seed=11)
            server.wait(lambda s: bot.done(s) or not bot.alive(), timeout=300)
            replies = server.replies()
        finally:
            code = bot.terminate()
        stats = server.stats()
    stored = Counter(stored_amounts(url))
    want = Counter(amount for _, amount in expected)
    lost, duplicates = sum((want - stored).values()), sum(n - 1 for n in stored.values() if n > 1)
    unanswered, answered_twice, wrong = _answers(replies, expected)
    tracebacks = bot.log().count("Traceback")
    window_limit = math.ceil(flood_seconds / FLOOD_RETRY_AFTER) + 1
    back = stats["flood_back_after"]
    faults = {k.split(" ", 1)[1]: v for k, v in stats["faults"].items() if k.startswith("getUpdates ")}
    ledger.record("getUpdates faults", sent=len(updates),
                  failures=unanswered + wrong + stats["poll_violations"] + tracebacks + int(code != 0)
                  + int(stats["flood_calls"] > window_limit),
                  lost=lost, duplicates=duplicates + answered_twice,
                  note=f"{stats['flood_calls']} getUpdates in the {flood_seconds:.0f}s 429 window "
                       f"(retry_after {FLOOD_RETRY_AFTER}), back {back if back is None else round(back, 1)}s after it, "
                       f"{stats['redelivered']} redelivered, faults {json.dumps(faults, sort_keys=True)}")
    assert stats["confirmed_all_at"] is not None, "the bot never finished the updates"
    assert lost == 0 and duplicates == 0, f"{lost} quick-adds lost, {duplicates} stored twice"
    assert unanswered == 0 and answered_twice == 0 and wrong == 0, (unanswered, answered_twice, wrong)
    assert stats["poll_violations"] == 0, "getUpdates was called before its retry_after passed"
    assert 1 <= stats["flood_calls"] <= window_limit, f"{stats['flood_calls']} getUpdates in the 429 window"
    assert back is not None and back <= FLOOD_RETRY_AFTER + 1, f"back {back}s after the window"
    assert all(faults.get(kind) for kind in {"429", *(SCRIPT_FULL if full else SCRIPT)} - {"-"}), faults
    assert not full or stats["redelivered"] > 0, "no long poll answered after the bot gave up carried updates"
    assert tracebacks == 0, "the bot logged a traceback"
    assert code == 0, f"the bot exited with {code}"
