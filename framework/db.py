"""Database binding: one peewee ``DatabaseProxy`` that every model uses.

Models are declared against :data:`database` at import time, but the real
database is chosen by the application factory from ``database.url``. That is
peewee's "dynamically defining a database" pattern and it lets tests build
one application after another in one process, each with its own database. The binding is
process-wide, so only one application is live at a time (``framework.app.ApplicationLiveError``).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from .redaction import describe_error

DB_CONNECTION_ERRORS: tuple[type[Exception], ...] = (peewee.OperationalError, peewee.InterfaceError)
"""How a lost database connection (a restart, a failover, a killed backend) surfaces."""

database = peewee.DatabaseProxy()

UTC = dt.UTC


def utcnow() -> dt.datetime:
    """The one clock of the project: aware UTC."""
    return dt.datetime.now(UTC)


class DatabaseURLError(ValueError):
    """The ``database.url`` setting cannot be understood."""


def connect(url: str, *, pool_size: int = 20) -> peewee.Database:
    """Build (but do not open) the database named by ``url``.

    SQLite gets WAL, foreign keys and ``BEGIN IMMEDIATE`` transactions so
    parallel writers queue on the lock instead of failing with "database is
    locked" when a read transaction tries to upgrade. Its connections are
    pooled too: opening one per update re-ran the pragmas, and closing the last
    one checkpointed and deleted the WAL every time, which made each update pay
    ~3 ms of file I/O (docs/performance.md).
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise DatabaseURLError(f"sqlite URL needs a path, e.g. sqlite:///data/bot.db (got {url!r})")
        if path != ":memory:":
            folder = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:  # a file in the way, a read-only volume
                raise DatabaseURLError(f"cannot create the folder {folder}: {describe_error(exc)}") from None
        return PooledSqliteDatabase(
            path,
            max_connections=pool_size,
            stale_timeout=300,
            timeout=30,
            lock_type="IMMEDIATE",
            check_same_thread=False,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000, "synchronous": "normal"},
        )
    if parsed.scheme in ("postgres", "postgresql"):
        try:
            port = parsed.port
        except ValueError as exc:  # "Port could not be cast to integer value as 'abc'"
            raise DatabaseURLError(f"bad port in the database URL: {exc}") from None
        return PooledPostgresqlDatabase(
            unquote(parsed.path.lstrip("/")) or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or None,
            port=port or None,
            max_connections=pool_size,
            stale_timeout=300,
            timeout=30,
        )
    raise DatabaseURLError(f"unsupported database URL scheme {parsed.scheme!r}: use sqlite:/// or postgresql://")


def is_postgres(db: peewee.Database | None = None) -> bool:
    db = db if db is not None else database.obj
    return isinstance(db, peewee.PostgresqlDatabase)


def locked(query: peewee.ModelSelect) -> peewee.ModelSelect:
    """``query`` with the rows it reads locked until the update's transaction ends, for a
    read-then-write that two updates must not both do on the same row (two /undo at once).

    PostgreSQL: ``SELECT ... FOR UPDATE`` — the second reader waits, then sees the first one's
    change. SQLite: the query as it is, because every update's transaction already holds the
    database's writer lock from its start (``BEGIN IMMEDIATE``, see :func:`connect`).
    """
    return query.for_update() if is_postgres() else query


@contextmanager
def connection_scope() -> Iterator[None]:
    """Open this thread's connection for one update or job, and give it back after.

    Re-entrant: an inner scope on a thread that already holds a connection
    reuses it and leaves closing to the outer scope.
    """
    if not database.is_closed():
        yield
        return
    database.connect()
    try:
        yield
    finally:
        if not database.is_closed():
            database.close()


class JSONField(peewee.TextField):
    """JSON stored as text on SQLite and as JSONB on PostgreSQL."""

    field_type = "JSON"

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, default=str)

    def python_value(self, value: Any) -> Any:
        if value is None or isinstance(value, (dict, list)):
            return value
        return json.loads(value)


class UtcDateTimeField(peewee.DateTimeField):
    """Timezone-aware UTC datetimes on both databases.

    PostgreSQL stores TIMESTAMPTZ. SQLite has no such type, so values are
    stored as naive UTC text, which keeps them sortable and comparable.
    """

    field_type = "TIMESTAMPTZ"

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
            if not is_postgres():
                return value.replace(tzinfo=None).isoformat(" ")
            return value
        return value

    def python_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value


class BaseModel(peewee.Model):
    """Base for every table, core or plugin: bound to the shared proxy."""

    class Meta:
        database = database
        legacy_table_names = False

    @classmethod
    def create(cls, **query: Any) -> Any:
        """``Model.create``, with the INSERT's text built once per table and columns
        (framework.statements): most updates create a row or two, and peewee compiling the same
        INSERT every time cost more CPU than the database storing it."""
        if cls.save is not peewee.Model.save:  # a model (a plugin's) that does its own thing on save
            return super().create(**query)
        from .statements import create  # statements builds on this module

        return create(cls, **query)

    @classmethod
    def get_or_none(cls, *query: Any, **filters: Any) -> Any:
        """``Model.get_or_none``; a lookup by one field's value (``Settings.get_or_none(Settings.user
        == id)``, the commonest, a plugin's settings row on every update) runs a SELECT whose text
        is built once per table and field (framework.statements). Anything else is peewee's."""
        if len(query) == 1 and not filters:
            where = query[0]
            if (isinstance(where, peewee.Expression) and where.op == peewee.OP.EQ
                    and isinstance(where.lhs, peewee.Field) and where.lhs.model is cls
                    and not isinstance(where.rhs, peewee.Node)):
                from .statements import get_or_none  # statements builds on this module

                return get_or_none(cls, where.lhs, where.rhs)
        return super().get_or_none(*query, **filters)
