"""The baseline: the echo and quick-add bots written on plain pyTelegramBotAPI, no framework.

A threaded ``TeleBot`` with its own ``infinity_polling`` and a plain peewee
insert per expense: what a developer writes without plugbot. It does less than
plugbot does per update (no exactly-once guard, no user upsert, no rate limit,
sessions, audit or transaction per update), which is exactly what the ratio
plugbot/baseline prices.

    python -m benchmarks.baseline --api-url URL --workload echo|quick_add --db URL --workers 4 --stats-out F
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlparse

import peewee
import telebot
from telebot import apihelper

from .instrument import peak_rss_mb
from .services import BENCH_TOKEN

QUICK = re.compile(r"^\s*([^\d\s][^\d]*?)\s+(\d+(?:[.,]\d{1,2})?)\s*$")

db = peewee.DatabaseProxy()


class CpuMeter:
    """CPU of the whole process from the first message handled to the last (as plugbot's runner counts it)."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None
        self.handled = 0
        self._lock = threading.Lock()

    def wrap(self, handler: Callable[[telebot.types.Message], None]) -> Callable[[telebot.types.Message], None]:
        def measured(message: telebot.types.Message) -> None:
            with self._lock:
                if self.first is None:
                    self.first = time.process_time()
            try:
                handler(message)
            finally:
                with self._lock:
                    self.handled += 1
                    self.last = time.process_time()

        return measured

    def per_update_ms(self) -> float | None:
        if self.first is None or self.last is None or not self.handled:
            return None
        return (self.last - self.first) * 1000 / self.handled


CPU = CpuMeter()


class Expense(peewee.Model):
    user_id = peewee.BigIntegerField(index=True)
    amount = peewee.DecimalField(max_digits=12, decimal_places=2)
    note = peewee.TextField(null=True)
    created_at = peewee.DateTimeField()

    class Meta:
        database = db
        table_name = "baseline_expenses"


def connect(url: str) -> peewee.Database:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return peewee.SqliteDatabase(url[len("sqlite:///"):], check_same_thread=False,
                                     pragmas={"journal_mode": "wal", "busy_timeout": 30000, "synchronous": "normal"})
    return peewee.PostgresqlDatabase(unquote(parsed.path.lstrip("/")), user=parsed.username, host=parsed.hostname,
                                     port=parsed.port)


def build_bot(workload: str, workers: int) -> telebot.TeleBot:
    bot = telebot.TeleBot(BENCH_TOKEN, threaded=True, num_threads=workers)

    if workload == "echo":
        @bot.message_handler(content_types=["text"])
        @CPU.wrap
        def echo(message: telebot.types.Message) -> None:
            bot.send_message(message.chat.id, message.text)
    else:
        @bot.message_handler(content_types=["text"])
        @CPU.wrap
        def quick_add(message: telebot.types.Message) -> None:
            match = QUICK.match(message.text or "")
            if match is None:
                bot.send_message(message.chat.id, "Not an expense")
                return
            amount = Decimal(match.group(2).replace(",", "."))
            db.connect(reuse_if_open=True)  # one connection per worker thread, kept open
            Expense.insert(user_id=message.from_user.id, amount=amount, note=match.group(1),
                           created_at=dt.datetime.now(dt.UTC)).execute()
            bot.send_message(message.chat.id, f"Saved: {match.group(1)} — {amount}")

    return bot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="plain pyTelegramBotAPI baseline bot")
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--workload", choices=("echo", "quick_add"), required=True)
    parser.add_argument("--db", default="")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--stats-out", required=True)
    args = parser.parse_args(argv)

    apihelper.API_URL = args.api_url.rstrip("/") + "/bot{0}/{1}"
    if args.workload == "quick_add":
        db.initialize(connect(args.db))
        db.connect()
        db.create_tables([Expense])
        db.close()
    bot = build_bot(args.workload, args.workers)
    done = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        done.set()
        bot.stop_polling()

    signal.signal(signal.SIGTERM, stop)
    poller = threading.Thread(target=bot.infinity_polling, kwargs={"timeout": 5, "long_polling_timeout": 1},
                              daemon=True)
    poller.start()
    done.wait()
    poller.join(10)
    with open(args.stats_out, "w", encoding="utf-8") as fh:
        json.dump({"peak_rss_mb": peak_rss_mb(), "cpu_ms_per_update": CPU.per_update_ms()}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
