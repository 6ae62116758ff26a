"""The proof of the durable update queue across processes: 3 worker processes (``python -m
framework worker``, real OS processes) on PostgreSQL + Redis, replying to the fake Bot API server
(benchmarks/fakeapi.py), one of them SIGKILLed midway.

The receiver is this test's own application with no workers of its own, run twice: once serving
the webhook (3,000 quick-adds from 100 users POSTed from 4 threads, 10% of them twice — half at
once, half after they were processed — the chats' updates interleaved so that update ids arrive
out of global order; a chat's own keep theirs, as Telegram sends them), once polling the fake
Telegram, which holds the same updates with the same tenth twice. Asserted: every expense stored exactly once, each user's
expenses processed in the order sent, every one answered, and a reply sent twice only when the
killed worker had committed it and not yet marked it sent (an outbox row it left, re-sent by the
worker started after it, as a supervisor would).

The polling receiver's kill -9 with 2,000 stored updates is tests/reliability/test_kill9.py.
"""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "555000333:PROCESSES-token-not-in-logs"
USERS = 100
PER_USER = 30          # 3,000 quick-adds
WORKER_PROCESSES = 3
KILL_AFTER = 900       # expenses stored before one worker is SIGKILLed
WEBHOOK_SECRET = "proof-webhook-secret"


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.fakeapi import FakeApiProcess

    with FakeApiProcess(cwd=str(ROOT)) as server:
        yield server


def _worker(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "REDIS_URL", "BOT_ADMIN_IDS")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    log = open(log_path, "ab")  # noqa: SIM115 - the child holds it; closed by the OS at exit
    return subprocess.Popen([sys.executable, "-m", "framework", "worker", "--config", str(config_path)],
                            cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.postgres
@pytest.mark.parametrize("via", ["webhook", "polling"])
def test_three_worker_processes_one_killed_every_expense_once_in_order(
        via: str, tmp_path: Path, fake_api: Any, postgres_url: str, redis_url: str, redis_prefix: str) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.services import Storage, bot_config, write_config
    from benchmarks.workloads import UpdateFactory
    from framework.app import Application
    from framework.config import load_config

    store = Storage("postgres", postgres_url, redis_url, redis_prefix)
    # max_attempts 2: two processes on one chat would both take its oldest row, and the attempts
    # they count would drop updates nobody failed on (the killed worker's row in hand is taken twice).
    config = bot_config(store, workers=2, plugins={"expenses": {"charts": False}}, api_url=fake_api.url,
                        token=TOKEN, log_level="INFO", queue={"max_attempts": 2})
    path = Path(write_config(config, str(tmp_path / "bot.yaml")))

    # Each user's quick-adds with amounts rising in the order sent: 1.00, 1.01, ... unique overall.
    factory = UpdateFactory(first_update_id=1)
    per_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
    amounts: dict[int, str] = {}
    for k in range(USERS * PER_USER):
        user = k % USERS
        amount = f"{1 + k // 100}.{k % 100:02d}"
        update = factory.message(user, f"coffee {amount}")
        per_user[user].append(update)
        amounts[update["update_id"]] = amount
    rng = random.Random(17)
    twice = set(rng.sample(sorted(amounts), len(amounts) // 10))

    receiver = Application(load_config(str(path), env={}))
    receiver.queue.workers = 0  # it stores; the worker processes process
    workers: list[subprocess.Popen[bytes]] = []
    try:
        receiver.start(scheduler=False, telegram=False)  # migrates before the workers start
        workers = [_worker(path, tmp_path / f"worker-{n}.log") for n in range(WORKER_PROCESSES)]

        if via == "webhook":
            threads, refused = _feed_through_the_webhook(receiver, per_user, twice)
        else:
            threads, refused = _feed_through_polling(receiver, fake_api, per_user, twice)

        stored = lambda: _query(postgres_url, "SELECT count(*) FROM expenses")[0][0]  # noqa: E731
        _wait(lambda: stored() >= KILL_AFTER, 120, f"{KILL_AFTER} expenses")
        victim = workers[0]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        # The replies committed and not yet deleted from the outbox when it died: an upper bound of
        # those it may have sent and not marked (the survivors' in-flight rows are in it too). Counted
        # now, because the leader's resend_outbox job may re-send them before the replacement starts.
        outbox_at_kill = _query(postgres_url, "SELECT count(*) FROM outbox")[0][0]
        if via == "polling":
            _wait(lambda: fake_api.stats()["confirmed_all_at"] is not None, 120, "every update to be polled")
            receiver.stopping.set()  # the polling loop leaves; what it stored stays stored
        for thread in threads:
            thread.join(60)
        assert not refused, f"webhook answers other than 200 (not stored): {refused[:10]}"
        _wait(lambda: _query(postgres_url, "SELECT count(*) FROM incoming_updates")[0][0] == 0, 180,
              "the survivors to process every stored update")
        # The killed worker's committed replies it had not marked sent: a worker started in its place
        # (as a supervisor would) sends them; only these may reach a user twice.
        left_behind = max(outbox_at_kill, _query(postgres_url, "SELECT count(*) FROM outbox")[0][0])
        replacement = _worker(path, tmp_path / "worker-replacement.log")
        workers.append(replacement)
        _wait(lambda: _query(postgres_url, f"SELECT count(*) FROM bot_processes WHERE pid = {replacement.pid}")[0][0],
              60, "the replacement worker to start")  # its heartbeat: started, and it recovered the outbox first
        _wait(lambda: _query(postgres_url, "SELECT count(*) FROM outbox")[0][0] == 0, 60, "the outbox to drain")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(60) for worker in workers]
        receiver.stop()

    assert codes[0] == -signal.SIGKILL and codes[1:] == [0] * (len(codes) - 1)
    # Every expense exactly once.
    rows = _query(postgres_url, "SELECT e.id, u.telegram_id, e.amount FROM expenses e JOIN users u ON u.id = e.user_id")
    got = Counter(f"{Decimal(str(amount)):.2f}" for _, _, amount in rows)
    want = Counter(amounts.values())
    assert got == want, f"lost {sum((want - got).values())}, twice {sum((got - want).values())}"
    # Each user's expenses were processed in the order sent (row ids follow the commits).
    by_user: dict[int, list[Decimal]] = defaultdict(list)
    for _, telegram_id, amount in sorted(rows):
        by_user[telegram_id].append(Decimal(str(amount)))
    assert all(values == sorted(values) for values in by_user.values())
    # Every expense answered; twice only for what the killed worker left in the outbox.
    texts = [(chat, text or "") for method, chat, text, _ in fake_api.replies() if method == "sendMessage"]
    saved = [(chat, m.group(1)) for chat, text in texts if text.startswith("✅ Saved")
             for m in [re.search(r"\$(\d+\.\d\d)", text)] if m]
    answered = Counter(f"{Decimal(a):.2f}" for _, a in saved)
    assert set(answered) == set(want), "an expense was never answered"
    assert sum(n - 1 for n in answered.values()) <= left_behind
    # Per chat, the replies came in the order sent, but for chats whose reply the replacement re-sent.
    first_seen: dict[Any, list[Decimal]] = defaultdict(list)
    seen: set[str] = set()
    for chat, amount in saved:
        if amount not in seen:
            seen.add(amount)
            first_seen[chat].append(Decimal(amount))
    out_of_order = [chat for chat, values in first_seen.items() if values != sorted(values)]
    assert len(out_of_order) <= left_behind
    logs = "".join((tmp_path / name).read_text(errors="replace") for name in os.listdir(tmp_path)
                   if name.endswith(".log"))
    assert TOKEN.split(":")[1] not in logs, "the token reached a log"
    assert "Traceback" not in logs, logs[-3000:]


def _feed_through_the_webhook(receiver: Any, per_user: dict[int, list[dict[str, Any]]],
                              twice: set[int]) -> tuple[list[threading.Thread], list[int]]:
    """POST every update to the receiver's webhook endpoint from 4 threads, as Telegram's delivery
    connections do: each thread's chats interleaved, one update of each in turn (a chat's own keep
    their order, as Telegram sends them), a duplicate now and then — half at once, half at the end,
    after they were (mostly) processed. Returns the threads and the statuses other than 200 (an
    update the endpoint did not store)."""
    import requests

    from framework.transports.webhook import make_webhook_server

    server = make_webhook_server(receiver, "127.0.0.1", 0, secret_token=WEBHOOK_SECRET)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/webhook"
    refused: list[int] = []

    def post(users: list[int]) -> None:
        session = requests.Session()
        later: list[dict[str, Any]] = []
        for step in range(PER_USER):
            for user in users:
                update = per_user[user][step]
                sends = [update]
                if update["update_id"] in twice:
                    (sends if update["update_id"] % 2 else later).append(update)
                for body in sends:
                    answer = session.post(url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
                                          timeout=30)
                    if answer.status_code != 200:
                        refused.append(answer.status_code)
        for body in later:
            session.post(url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}, timeout=30)

    posters = [threading.Thread(target=post, args=([u for u in range(USERS) if u % 4 == t],)) for t in range(4)]

    def close_when_posted() -> None:
        for poster in posters:
            poster.join()
        server.shutdown()

    threads = [*posters, threading.Thread(target=close_when_posted)]
    for thread in threads:
        thread.start()
    return threads, refused


def _feed_through_polling(receiver: Any, fake_api: Any, per_user: dict[int, list[dict[str, Any]]],
                          twice: set[int]) -> tuple[list[threading.Thread], list[int]]:
    """The fake Telegram holds every update, a tenth of them twice; the receiver polls it (stores a
    batch, advances the offset, polls again) until the test stops it."""
    from framework.transports.polling import run_polling

    updates = [update for step in range(PER_USER) for user in range(USERS) for update in
               ([per_user[user][step]] * (2 if per_user[user][step]["update_id"] in twice else 1))]
    fake_api.load(updates)
    thread = threading.Thread(target=run_polling, args=(receiver,), kwargs={"timeout": 1, "limit": 100})
    thread.start()
    return [thread], []


@pytest.mark.postgres
def test_run_with_processes_receives_in_one_and_processes_in_the_workers(
        tmp_path: Path, fake_api: Any, postgres_url: str, redis_url: str, redis_prefix: str) -> None:
    sys.path.insert(0, str(ROOT))
    import socket
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from benchmarks.services import Storage, bot_config, pending_updates, write_config
    from benchmarks.workloads import UpdateFactory

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    store = Storage("postgres", postgres_url, redis_url, redis_prefix)
    config = bot_config(store, workers=2, plugins={"expenses": {"charts": False}}, api_url=fake_api.url,
                        token=TOKEN, log_level="INFO", metrics={"port": metrics_port})
    path = Path(write_config(config, str(tmp_path / "bot.yaml")))
    factory = UpdateFactory(first_update_id=1)
    fake_api.load([factory.message(k % 20, f"tea {1 + k // 100}.{k % 100:02d}") for k in range(300)])
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "REDIS_URL", "BOT_ADMIN_IDS")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "run.log"
    with open(log_path, "ab") as log:
        bot = subprocess.Popen([sys.executable, "-m", "framework", "run", "--processes", "2", "--config", str(path)],
                               cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: fake_api.stats()["confirmed_all_at"] is not None and pending_updates(postgres_url) == 0,
              120, "the worker processes to process every update")
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
            scraped = response.read().decode()
    finally:
        bot.send_signal(signal.SIGTERM)
        code = bot.wait(60)
    # The receiver's /metrics sums what the worker processes counted (they processed every update).
    processed = sum(sample.value for family in text_string_to_metric_families(scraped)
                    if family.name == "plugbot_updates" for sample in family.samples
                    if sample.name == "plugbot_updates_total")
    assert processed == 300
    text = log_path.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert _query(postgres_url, "SELECT count(*) FROM expenses")[0][0] == 300
    modes = Counter(mode for (mode,) in _query(postgres_url, "SELECT mode FROM bot_processes"))
    assert modes == {"polling": 1, "worker": 2}  # the receiver and its two workers, each with its heartbeat
    assert text.count("plugbot worker stopped") == 2 and "Traceback" not in text
