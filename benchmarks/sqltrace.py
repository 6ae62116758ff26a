"""Which SQL statements and Redis commands one update costs, in the steady state.

Runs a user through a few warm-up updates (so caches hold what a running bot
has), then prints every statement and command of one more update of each
kind. This is how the per-update counts in docs/performance.md were read.

    python -m benchmarks.sqltrace [--backend postgres] [--text "coffee 5"]
"""
from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from framework.app import Application
from plugins.expenses.conversation import AddStep, Step

from .inproc import start_app
from .services import storage
from .workloads import UpdateFactory

_trace = threading.local()


def _install(app: Application) -> None:
    original = app.db.execute_sql

    def execute_sql(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if getattr(_trace, "on", False):
            print(f"    SQL   {sql[:160]}")
        return original(sql, params, *args, **kwargs)

    app.db.execute_sql = execute_sql
    import redis.client

    plain = redis.client.Redis.execute_command
    queued = redis.client.Pipeline.pipeline_execute_command

    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        if getattr(_trace, "on", False):
            print(f"    REDIS {' '.join(str(a) for a in args)[:120]}")
        return plain(self, *args, **options)

    def pipeline_execute_command(self: Any, *args: Any, **options: Any) -> Any:
        if getattr(_trace, "on", False):
            print(f"    REDIS (pipelined) {' '.join(str(a) for a in args)[:110]}")
        return queued(self, *args, **options)

    redis.client.Redis.execute_command = execute_command
    redis.client.Pipeline.pipeline_execute_command = pipeline_execute_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="print the SQL and Redis traffic of single updates")
    parser.add_argument("--backend", default="postgres")
    parser.add_argument("--workload", default="mix", help="echo or an expenses workload (quick_add, mix)")
    parser.add_argument("--workdir", default="/tmp")
    args = parser.parse_args(argv)
    with storage(args.backend, args.workdir) as store:
        app = start_app(store, args.workload, workers=1)
        _install(app)
        factory = UpdateFactory(first_update_id=1)
        steps: list[tuple[str, Any]] = (
            [("text", "hello"), ("text", "hello")] if args.workload == "echo" else
            [("text", "coffee 5"), ("text", "coffee 5"), ("text", "hello there"), ("text", "/stats"),
             ("text", "/add"), ("text", "12.50"), ("text", "Food"), ("text", "lunch"), ("callback", AddStep(step=Step.OK))])
        for label, payload in [("warm-up", s) for s in steps] + [("traced", s) for s in steps]:
            update = factory.message(0, payload[1]) if payload[0] == "text" else factory.callback(0, payload[1])
            _trace.on = label == "traced"
            if _trace.on:
                print(f"\n== {payload[0]} {payload[1]!r}")
            app.process_update(update)
            _trace.on = False
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
