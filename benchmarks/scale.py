"""Scale: does the cost of an update grow with the data? PostgreSQL + Redis, 100k users, 10^4…10^6 expenses.

The database is created by the bot's own migrations, then filled in bulk with
``generate_series`` (seconds, where inserting through the bot would take
hours): ``users`` users, each with an ``expense_settings`` row, and the
expenses spread evenly over the users and over the past year, so each user
owns ``expenses / users`` of them (0.1 to 10) -- the tables and their indexes
grow, one user's slice stays small, as in a real bot with many light users.
Then quick-add and /stats are measured in process (warm caches) from 1,000 of
those users.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from framework.app import Application
from framework.config import load_config

from .inproc import RecordingApi
from .services import REDIS_URL, Storage, bot_config, drop_redis_prefix, plugins_for, postgres_database
from .workloads import USER_BASE


def prepare(url: str, users: int, expenses: int) -> float:
    """Migrate ``url`` and fill it; returns the seconds it took."""
    started = time.perf_counter()
    store = Storage("postgres", url)
    app = Application(load_config(None, env={}, overrides=bot_config(store, workers=1,
                                                                     plugins=plugins_for("quick_add"))),
                      api=RecordingApi())
    app.migrate()
    app.stop()
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("""
            INSERT INTO users (telegram_id, first_name, language_code, timezone, is_admin, status,
                               created_at, updated_at, last_active)
            SELECT %s + g, 'User' || g, 'en', 'UTC', false, 'active', now(), now(), now() - interval '1 day'
            FROM generate_series(0, %s - 1) AS g""", (USER_BASE, users))
        cur.execute("""
            INSERT INTO expense_settings (user_id, budget_alert_threshold, date_format, number_format,
                                          nlp_enabled, auto_categorize, currency, timezone, week_start,
                                          budget_alert_level, created_at, updated_at)
            SELECT id, 80, 'YYYY-MM-DD', 'en-US', true, true, 'USD', 'UTC', 1, 0, now(), now() FROM users""")
        cur.execute("SELECT min(id) FROM users")
        first_user = cur.fetchone()[0]
        cur.execute("SELECT array_agg(id ORDER BY id) FROM categories WHERE is_system")
        system = cur.fetchone()[0]
        cur.execute("""
            INSERT INTO expenses (user_id, amount, currency, category_id, note, source, is_deleted,
                                  expense_date, created_at, updated_at)
            SELECT %s + (g %% %s), 1 + (g %% 500) + 0.25, 'USD', (%s::int[])[1 + g %% %s], 'coffee', 'nlp', false,
                   current_date - (g %% 365), now() - (g %% 365) * interval '1 day', now()
            FROM generate_series(0, %s - 1) AS g""", (first_user, users, system, len(system), expenses))
        cur.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def run(sizes: list[int], *, users: int, n: int, workdir: str,
        inproc: Callable[..., dict[str, Any]], workers: int = 4, active_users: int = 1000) -> list[dict[str, Any]]:
    """For each size: a fresh database, filled, then quick-add and /stats measured on it."""
    results = []
    for size in sizes:
        with postgres_database() as url:
            prepare_s = prepare(url, users, size)
            for number, workload in enumerate(("quick_add", "stats")):
                prefix = f"plugbot-bench-scale:{size}:{workload}:"
                try:
                    result = inproc(workload, "postgres", workers, n, active_users, workdir,
                                    extra=["--database-url", url, "--redis-prefix", prefix, "--warmup", "2000",
                                           "--first-update-id", str(1 + number * 1_000_000)])
                finally:
                    drop_redis_prefix(REDIS_URL, prefix)
                result.update({"expenses": size, "users": users, "prepare_s": prepare_s})
                results.append(result)
                print(f"  {size:>9,} expenses, {workload}: {result.get('updates_per_s', 0):.0f} updates/s "
                      f"(prepared in {prepare_s:.0f} s)", flush=True)
    return results
