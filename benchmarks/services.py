"""Throwaway databases, Redis prefixes and bot configs for one benchmark run.

Every run gets a fresh database (a new SQLite file or a new PostgreSQL
database) and its own Redis key prefix, so runs never see each other's data
and nothing is left behind on the shared servers.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml

PG_ADMIN_URL = os.environ.get("PLUGBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PLUGBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BENCH_TOKEN = "123456789:BENCHMARK-token-not-a-secret"

BACKENDS = ("sqlite", "postgres")
"""``sqlite``: SQLite file + in-memory sessions/limits/cache; ``postgres``: PostgreSQL + Redis."""


@dataclass
class Storage:
    """Where one run keeps its data."""

    backend: str
    database_url: str
    redis_url: str = ""
    redis_prefix: str = ""


@contextmanager
def storage(backend: str, workdir: str) -> Iterator[Storage]:
    """A fresh database (and Redis prefix for ``postgres``), removed afterwards."""
    if backend == "sqlite":
        path = os.path.join(workdir, f"bench-{uuid.uuid4().hex[:8]}.db")
        try:
            yield Storage("sqlite", f"sqlite:///{path}")
        finally:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
        return
    if backend != "postgres":
        raise ValueError(f"unknown backend {backend!r}; use one of {BACKENDS}")
    with postgres_database() as url:
        prefix = f"plugbot-bench:{uuid.uuid4().hex[:10]}:"
        try:
            yield Storage("postgres", url, REDIS_URL, prefix)
        finally:
            drop_redis_prefix(REDIS_URL, prefix)


@contextmanager
def postgres_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """Create ``plugbot_bench_<hex>`` and drop it (WITH FORCE) afterwards."""
    from framework.testing import throwaway_postgres

    with throwaway_postgres(admin_url, prefix="plugbot_bench") as url:
        yield url


def drop_redis_prefix(url: str, prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
        return len(keys)
    finally:
        client.close()


def bot_config(store: Storage, *, workers: int, plugins: dict[str, Any], api_url: str = "",
               token: str = BENCH_TOKEN, log_level: str = "WARNING", **extra: Any) -> dict[str, Any]:
    """The config of a benchmark bot.

    Telegram's own send limits (30 messages/s, 1/s per chat) are switched off:
    they would cap every run at 30 replies a second and measure the pacing, not
    the framework. The incoming per-user limit is raised for the same reason
    (each update still pays for its check). Long polls are short so the bot
    stops quickly once the run is over.
    """
    config: dict[str, Any] = {
        "telegram": {"token": token, "api_url": api_url or "http://127.0.0.1:9", "mode": "polling",
                     "polling": {"timeout": 1, "limit": 100}},
        "database": {"url": store.database_url, "pool_size": workers + 4},
        "redis": {"url": store.redis_url, "prefix": store.redis_prefix},
        "workers": workers,
        "logging": {"level": log_level, "format": "plain"},
        "ratelimit": {"messages_per_minute": 1_000_000},
        "sender": {"global_per_second": 0, "private_interval": 0.0, "group_per_minute": 0, "max_retries": 5},
        "plugins": plugins,
    }
    for key, value in extra.items():
        config[key] = {**config[key], **value} if isinstance(config.get(key), dict) else value
    return config


def pending_updates(url: str) -> int:
    """Updates the bot stored and has not processed yet (``incoming_updates``), plus replies committed
    and not yet sent (``outbox``): the bot acknowledges a batch to Telegram once stored, so a run is
    over when the server confirmed everything and this is 0. -1 before the database is migrated."""
    sql = "SELECT (SELECT count(*) FROM incoming_updates) + (SELECT count(*) FROM outbox)"
    try:
        if url.startswith("sqlite:///"):
            import sqlite3

            with sqlite3.connect(url[len("sqlite:///"):]) as conn:
                return conn.execute(sql).fetchone()[0]
        import psycopg2

        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchone()[0]
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - no table yet, or the database is restarting
        return -1


def write_config(config: dict[str, Any], path: str) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, sort_keys=False, allow_unicode=True)
    return path


PLUGINS = {
    "echo": {"echo": {"module": "benchmarks.echo_plugin"}},
    # /stats answers in text: a matplotlib chart costs ~0.1-0.3 s of CPU and would measure matplotlib.
    "expenses": {"expenses": {"charts": False}},
    "expenses_charts": {"expenses": {"charts": True}},
    "tarot": {"tarot": {"welcome_bonus": 5}},
    "chatmemory": {"chatmemory": {}},
}


def plugins_for(workload: str, charts: bool = False) -> dict[str, Any]:
    if workload in ("echo", "tarot", "chatmemory"):
        return PLUGINS[workload]
    if workload == "slow_chat":
        return PLUGINS["echo"]
    return PLUGINS["expenses_charts" if charts else "expenses"]
