"""Benchmark of /stats on 100,000 expenses of one user.

    python -m benchmarks.expenses_stats --database postgresql://postgres@127.0.0.1:5432/test
    python -m benchmarks.expenses_stats                       # a temporary SQLite file

It creates a throwaway database next to the one named (PostgreSQL) or in a
temporary folder (SQLite), applies the plugin's migration, inserts the rows,
times :func:`plugins.expenses.stats.build` for a month and for a year, and
drops the database again. The figures are recorded in the plugin's README.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from framework import User
from framework import db as dbmod
from framework.migrations import migrate
from framework.models import CORE_MODELS
from plugins.expenses import categories, periods, rates, stats
from plugins.expenses.models import Expense

MIGRATIONS = os.path.join(os.path.dirname(categories.__file__), "migrations")
TODAY = dt.date(2025, 6, 15)


@contextmanager
def throwaway(url: str | None) -> Iterator[str]:
    """A new empty database: a temp SQLite file, or a database created next to ``url``."""
    if not url or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    from .services import postgres_database

    with postgres_database(url) as created:
        yield created


def populate(user: User, count: int, seed: int = 42) -> None:
    """``count`` expenses over the year before TODAY, 90 % USD and 10 % EUR, in batches."""
    rng = random.Random(seed)
    category_ids = [c.id for c in categories.system_categories().values()]
    now = dbmod.utcnow()
    batch = []
    for _ in range(count):
        batch.append({
            "user": user.id, "amount": Decimal(rng.randint(100, 2_000_00)) / 100,
            "currency": "EUR" if rng.random() < 0.1 else "USD", "category": rng.choice(category_ids),
            "note": rng.choice(["coffee", "lunch", "taxi", "rent", "books", None]), "source": "nlp",
            "expense_date": TODAY - dt.timedelta(days=rng.randint(0, 364)), "is_deleted": rng.random() < 0.02,
            "created_at": now, "updated_at": now,
        })
        if len(batch) == 1000:
            Expense.insert_many(batch).execute()
            batch = []
    if batch:
        Expense.insert_many(batch).execute()


def time_report(user: User, spec: str, repeat: int) -> list[float]:
    """Wall-clock seconds of each of ``repeat`` full /stats computations for ``spec``."""
    period = periods.resolve(spec, TODAY, 1)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        stats.build(user, period.start, period.end, (period.previous_start, period.previous_end), "USD",
                    lambda target: rates.factors(user, target))
        timings.append(time.perf_counter() - started)
    return timings


def run(url: str | None, count: int, repeat: int) -> dict[str, list[float]]:
    with throwaway(url) as bench_url:
        db = dbmod.connect(bench_url)
        dbmod.database.initialize(db)
        db.connect()
        try:
            db.create_tables(CORE_MODELS)
            migrate(db, [("expenses", MIGRATIONS)])
            with db.atomic():
                user = User.create(telegram_id=1, first_name="Bench")
                populate(user, count)
                rates.set_rate(user, "EUR", "USD", Decimal("1.08"), dbmod.utcnow())
            if dbmod.is_postgres(db):
                db.execute_sql("ANALYZE")
            return {spec: time_report(user, spec, repeat) for spec in ("month", "year")}
        finally:
            db.close()
            if hasattr(db, "close_all"):
                db.close_all()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="PostgreSQL URL of a server to create the throwaway database on; "
                                           "SQLite in a temporary folder when omitted")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    kind = "PostgreSQL" if args.database and args.database.startswith("postgres") else "SQLite"
    started = time.perf_counter()
    results = run(args.database, args.rows, args.repeat)
    print(f"{kind}, {args.rows:,} expenses of one user (set up in {time.perf_counter() - started:.1f} s)")
    for spec, timings in results.items():
        print(f"/stats {spec:5}: median {statistics.median(timings) * 1000:7.1f} ms, "
              f"best {min(timings) * 1000:7.1f} ms over {len(timings)} runs")


if __name__ == "__main__":
    main()
