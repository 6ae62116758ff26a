"""The plugbot bot process of the end-to-end benchmark: ``python -m framework run``, plus counters.

It does what ``cmd_run`` does in polling mode (build the app from the config,
start it, poll until SIGTERM) and additionally counts SQL statements and Redis
commands, times every update from its arrival in a getUpdates batch to its
last reply, and on exit writes those numbers with the peak RSS as JSON.

    python -m benchmarks.runner --config bot.yaml --stats-out stats.json [--kinds kinds.json] [--role ROLE]

``--role receiver`` only polls and stores (``run --processes N``'s receiver), ``--role worker`` only
processes what is stored (``python -m framework worker``); the default does both, as ``run`` does.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from telebot import apihelper

from framework.app import Application
from framework.config import load_config
from framework.logs import configure_logging
from framework.transports.polling import run_polling

from .instrument import REDIS, REDIS_ROUNDTRIPS, SQL, instrument_app, peak_rss_mb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="plugbot bot process with benchmark counters")
    parser.add_argument("--config", required=True)
    parser.add_argument("--stats-out", required=True)
    parser.add_argument("--kinds", default=None, help="JSON {update_id: kind} for per-type latencies")
    parser.add_argument("--read-timeout", type=float, default=None,
                        help="pyTelegramBotAPI read timeout for API calls (the reliability suite shortens it)")
    parser.add_argument("--role", choices=("both", "receiver", "worker"), default="both")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    configure_logging(level=config["logging"]["level"], fmt=config["logging"]["format"])
    if args.read_timeout is not None:
        apihelper.READ_TIMEOUT = args.read_timeout
    kinds: dict[int, str] = {}
    if args.kinds:
        with open(args.kinds, encoding="utf-8") as fh:
            kinds = {int(k): v for k, v in json.load(fh).items()}

    app = Application(config)
    recorder = instrument_app(app, kinds)
    started = time.perf_counter()
    if args.role == "receiver":
        app.queue.workers = 0  # as `run --processes N`: the worker processes process
    app.start()
    if args.role != "receiver":
        app.queue.start()
    startup_s = time.perf_counter() - started
    baseline = (SQL.total, REDIS.total, REDIS_ROUNDTRIPS.total)

    def stop(signum: int, frame: Any) -> None:
        app.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    polling = config["telegram"]["polling"]
    try:
        if args.role == "worker":
            while not app.stopping.wait(0.5):
                pass
        else:
            run_polling(app, timeout=polling["timeout"], limit=polling["limit"])
    finally:
        app.stop()
    report: dict[str, Any] = recorder.report()
    report.update({
        "startup_s": startup_s,
        "sql_total": SQL.total - baseline[0], "redis_total": REDIS.total - baseline[1],
        "redis_roundtrips": REDIS_ROUNDTRIPS.total - baseline[2],
        "peak_rss_mb": peak_rss_mb(), "sender": app.sender.stats,
    })
    with open(args.stats_out, "w", encoding="utf-8") as fh:
        json.dump(report, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
