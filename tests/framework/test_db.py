"""The database a bot is bound to at start: SQLite as the embedded default,
pooled PostgreSQL in production."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from framework import User, connection_scope


def test_sqlite_creates_its_directory_and_runs_with_wal_and_foreign_keys(bot_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "bot.db"
    bot = bot_factory(db_url=f"sqlite:///{path}")
    assert bot.user(1).send("/help")  # a whole update went through the pipeline on that file
    assert path.exists() and isinstance(bot.app.db, PooledSqliteDatabase)
    assert bot.app.db.is_closed()  # the update's connection went back to the pool
    with connection_scope():
        assert bot.app.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert bot.app.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert User.select().where(User.telegram_id == 1).exists()


def test_postgresql_is_pooled(bot_factory: Any, request: pytest.FixtureRequest) -> None:
    bot = bot_factory(database="postgres")
    assert bot.user(1).send("/help")
    assert isinstance(bot.app.db, PooledPostgresqlDatabase) and bot.app.db.is_closed()
    with connection_scope():
        assert User.select().where(User.telegram_id == 1).exists()
