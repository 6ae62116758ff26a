"""Profile the per-update cost: updates run synchronously on the main thread under pyinstrument.

The update queue's worker threads are bypassed (``app.process_update``) so the
profile holds exactly the work of one update, repeated; caches are warmed
first so it shows the steady state, not first contact with each user.

    python -m benchmarks.profiling --workload echo --backend sqlite --n 3000 [--html out.html]
"""
from __future__ import annotations

import argparse
import sys
import time

from .inproc import start_app
from .instrument import SQL, count_sql
from .services import storage
from .workloads import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pyinstrument profile of the update pipeline")
    parser.add_argument("--workload", default="echo")
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--html", default=None)
    parser.add_argument("--workdir", default="/tmp")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        print('pyinstrument is not installed: pip install -e ".[bench]"', file=sys.stderr)
        return 2

    with storage(args.backend, args.workdir) as store:
        app = start_app(store, args.workload, workers=1)
        for update in generate(args.workload, args.users * 2, args.users, seed=99,
                               first_update_id=10_000_000).updates:
            app.process_update(update)
        count_sql(app.db)
        updates = generate(args.workload, args.n, args.users).updates
        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        profiler.start()
        for update in updates:
            app.process_update(update)
        profiler.stop()
        elapsed = time.perf_counter() - started
        app.stop()
    print(f"{args.n} updates in {elapsed:.2f}s: {args.n / elapsed:.0f} updates/s on one thread, "
          f"{SQL.total / args.n:.2f} SQL statements/update (profiler overhead included)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as fh:
            fh.write(profiler.output_html())
    return 0


if __name__ == "__main__":
    sys.exit(main())
