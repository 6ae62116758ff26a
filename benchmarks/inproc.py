"""In-process mode: the same updates fed straight to the pipeline, replies recorded, no HTTP.

The difference between this and the end-to-end run is what HTTP (and the
Bot API client) costs; what is left is the framework plus the plugin plus the
database. Updates are fed the way the polling loop feeds them -- a batch of
``batch`` (100, Telegram's getUpdates maximum), then ``app.join()`` -- or, with
``rate``, one at a time at a fixed offered load (latency without queueing).

Runs in a child process (``python -m benchmarks.inproc ...``) so its peak RSS
is its own. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from telebot import types

from framework.app import Application
from framework.config import load_config
from framework.logs import configure_logging

from .instrument import REDIS, REDIS_ROUNDTRIPS, SQL, instrument_app, peak_rss_mb
from .services import Storage, bot_config, plugins_for, storage
from .workloads import generate


class RecordingApi:
    """A :class:`framework.sender.BotApi` that answers at once and counts what was sent."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def call(self, method: str, **params: Any) -> Any:
        if method == "get_me":
            return types.User(id=1, is_bot=True, first_name="bench", username="bench_bot")
        with self._lock:
            self.calls[method] = self.calls.get(method, 0) + 1
        return True


def start_app(store: Storage, workload: str, workers: int, charts: bool = False) -> Application:
    """A started application on ``store`` for ``workload``, its replies going to a :class:`RecordingApi`."""
    config = load_config(None, env={}, overrides=bot_config(store, workers=workers,
                                                            plugins=plugins_for(workload, charts)))
    configure_logging(level="WARNING")
    app = Application(config, api=RecordingApi())
    app.start(scheduler=False)
    return app


def run(store: Storage, workload: str, n: int, workers: int, *, users: int = 1000, batch: int = 100,
        rate: float = 0.0, charts: bool = False, warmup: int = 0, first_update_id: int = 1) -> dict[str, Any]:
    """Build an app on ``store``, feed the workload, return the numbers."""
    app = start_app(store, workload, workers, charts)
    api = app.api
    if warmup:
        # Same users, other update ids: fills the caches the way a running bot has them.
        for update in generate(workload, warmup, users, seed=99, first_update_id=first_update_id + 50_000_000).updates:
            app.feed(update)
        app.join()
    work = generate(workload, n, users, first_update_id=first_update_id)
    recorder = instrument_app(app, work.kinds)
    base = (SQL.total, REDIS.total, REDIS_ROUNDTRIPS.total, sum(api.calls.values()))
    started = time.perf_counter()
    if rate:
        interval = 1.0 / rate
        for index, update in enumerate(work.updates):
            delay = started + index * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            app.feed(update)
        app.join()
    else:
        for start in range(0, len(work.updates), batch):
            for update in work.updates[start:start + batch]:
                app.feed(update)
            app.join()
    elapsed = time.perf_counter() - started
    app.stop()
    report = recorder.report()
    report.update({
        "mode": "inproc", "workload": workload, "backend": store.backend, "workers": workers, "n": n,
        "rate": rate, "elapsed_s": elapsed, "updates_per_s": n / elapsed if elapsed else 0.0,
        "sql_total": SQL.total - base[0], "redis_total": REDIS.total - base[1],
        "redis_roundtrips": REDIS_ROUNDTRIPS.total - base[2],
        "replies": sum(api.calls.values()) - base[3], "calls": api.calls, "peak_rss_mb": peak_rss_mb(),
    })
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="in-process plugbot benchmark (one configuration)")
    parser.add_argument("--workload", required=True)
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--charts", action="store_true")
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--workdir", default="/tmp")
    parser.add_argument("--database-url", default=None, help="use this (pre-populated) database instead")
    parser.add_argument("--redis-prefix", default=None)
    parser.add_argument("--first-update-id", type=int, default=1,
                        help="runs sharing a database need distinct update ids (the exactly-once guard)")
    args = parser.parse_args(argv)
    if args.database_url:
        from .services import REDIS_URL

        store = Storage(args.backend, args.database_url, REDIS_URL if args.redis_prefix else "",
                        args.redis_prefix or "")
        report = run(store, args.workload, args.n, args.workers, users=args.users, rate=args.rate,
                     charts=args.charts, warmup=args.warmup, first_update_id=args.first_update_id)
    else:
        with storage(args.backend, args.workdir) as store:
            report = run(store, args.workload, args.n, args.workers, users=args.users, rate=args.rate,
                         charts=args.charts, warmup=args.warmup)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
