"""Per-plugin migrations on peewee's own runner (``playhouse.migrations``).

Each plugin (and the core, as plugin ``core``) keeps numbered scripts in its
``migrations/`` folder. peewee's :class:`~playhouse.migrations.Runner` loads
and orders them and runs each in a transaction; plugbot only changes where
the history is written: one ``schema_version`` table with a row per
(plugin, version), so ``migrate --list`` can show every plugin at once.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import peewee
from playhouse.migrations import MigrationError, Runner

from .db import is_postgres, utcnow


def _history_model(database: peewee.Database) -> type[peewee.Model]:
    class SchemaVersion(peewee.Model):
        plugin = peewee.CharField(max_length=100)
        version = peewee.IntegerField()
        name = peewee.CharField(max_length=255)
        description = peewee.TextField(null=True)
        applied_at = peewee.DateTimeField(default=lambda: utcnow().replace(tzinfo=None))

        class Meta:
            table_name = "schema_version"
            indexes = ((("plugin", "name"), True),)

    SchemaVersion._meta.set_database(database)
    return SchemaVersion


class PluginRunner(Runner):
    """peewee's Runner, recording applied migrations per plugin in ``schema_version``."""

    def __init__(self, database: peewee.Database, directory: str, plugin: str):
        super().__init__(database, directory)
        self.plugin = plugin
        self.History = _history_model(database)

    def applied(self) -> dict[str, dt.datetime]:
        if not self.History.table_exists():
            return {}
        rows = self.History.select().where(self.History.plugin == self.plugin)
        return {row.name: row.applied_at for row in rows}

    def up(self, target: str | None = None, fake: bool = False) -> list[str]:
        self.History.create_table(safe=True)
        return super().up(target, fake)

    def _run(self, name: str, module, direction: str, fake: bool = False) -> None:
        record = self._record(name, module)
        if fake:
            record()
            return
        with self.migrator.migration_context(getattr(module, "atomic", True)):
            getattr(module, direction)(self.migrator, self.database)
            if direction == "up":
                record()
            else:
                if not is_postgres(self.database):
                    _refuse_dangling_references(self.database, name)
                self.History.delete().where((self.History.plugin == self.plugin)
                                            & (self.History.name == name)).execute()

    def _record(self, name: str, module):
        def record() -> None:
            doc = (module.__doc__ or "").strip().splitlines()
            self.History.create(plugin=self.plugin, version=_index(name),
                                name=name, description=doc[0] if doc else None)
        return record


def _refuse_dangling_references(database: peewee.Database, name: str) -> None:
    """SQLite runs a migration with foreign keys off, so nothing stops a ``down()`` from dropping a
    table other tables still point at (the core's ``users`` under a plugin's rows). PostgreSQL
    refuses that itself; here the check is made before the migration's transaction commits."""
    existing = set(database.get_tables())
    for table in sorted(existing):
        for key in database.get_foreign_keys(table):
            if key.dest_table not in existing:
                raise MigrationError(f"{name}: table {table} still points at {key.dest_table}; "
                                     f"roll back the plugin that owns {table} first")
    orphans = database.execute_sql("PRAGMA foreign_key_check").fetchall()
    if orphans:
        raise MigrationError(f"{name}: would leave rows of {orphans[0][0]} pointing at missing {orphans[0][2]} rows")


def _index(name: str) -> int:
    digits = "".join(ch for ch in name.split("_", 1)[0] if ch.isdigit())
    return int(digits) if digits else -1


@dataclass
class MigrationStatus:
    plugin: str
    name: str
    applied_at: dt.datetime | None


MIGRATION_LOCK = (0x706C6D67, 0)  # 'plmg': a namespace of its own
"""The PostgreSQL advisory lock ``migrate`` holds: processes starting together (``run --processes``,
gunicorn workers, a worker on another machine) migrate one after the other, and the later ones
find nothing pending, instead of racing to create the same tables."""


def migrate(database: peewee.Database, sources: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Apply pending migrations of every (plugin, directory), in the given (dependency) order."""
    applied: dict[str, list[str]] = {}
    with _migration_lock(database):
        for plugin, directory in sources:
            applied[plugin] = PluginRunner(database, directory, plugin).up()
    return applied


@contextlib.contextmanager
def _migration_lock(database: peewee.Database) -> Iterator[None]:
    """Hold :data:`MIGRATION_LOCK` (a session lock: migrations commit one by one) on PostgreSQL."""
    if not is_postgres(database):
        yield
        return
    database.execute_sql("SELECT pg_advisory_lock(%s, %s)", MIGRATION_LOCK)
    try:
        yield
    finally:
        database.execute_sql("SELECT pg_advisory_unlock(%s, %s)", MIGRATION_LOCK)


class RollbackError(Exception):
    """A rollback that cannot be done, or failed; the message is one line for the operator."""


def rollback(database: peewee.Database, sources: list[tuple[str, str]], plugin: str, target: str) -> list[str]:
    """Run ``down()`` of ``plugin``'s migration ``target`` (``0002`` or ``0002_job_runs``) and of every
    later one applied, newest first; return the names reverted.

    On PostgreSQL the whole rollback is one transaction: it happens entirely or
    not at all. SQLite turns foreign keys off for a migration, which only works
    outside a transaction, so there each migration is its own transaction and a
    failure reports which ones were already reverted.
    """
    directories = [directory for name, directory in sources if name == plugin]
    if not directories:
        known = ", ".join(sorted({name for name, _ in sources}))
        raise RollbackError(f"{plugin}: no such plugin with migrations (enabled ones: {known})")
    runner = PluginRunner(database, directories[0], plugin)
    name = _resolve(runner, target)
    if is_postgres(database):
        try:
            with database.atomic():
                return runner.down(name)
        except (MigrationError, peewee.DatabaseError) as exc:
            raise RollbackError(f"{plugin}/{name}: {_words(exc)}; nothing was rolled back") from None
    reverted: list[str] = []
    while name not in reverted:
        try:
            reverted += runner.down()  # the newest applied one
        except (MigrationError, peewee.DatabaseError) as exc:
            done = f"; already rolled back: {', '.join(reverted)}" if reverted else "; nothing was rolled back"
            raise RollbackError(f"{plugin}: {_words(exc)}{done}") from None
    return reverted


def _resolve(runner: PluginRunner, target: str) -> str:
    """``0002``, ``2`` or ``0002_job_runs`` → the applied migration's full name."""
    applied = [m for m in runner.status() if m.applied]
    for migration in applied:
        if target == migration.name or (target.isdigit() and int(target) == migration.idx):
            return migration.name
    pending = [m.name for m in runner.status() if not m.applied]
    if any(target == n or (target.isdigit() and int(target) == _index(n)) for n in pending):
        raise RollbackError(f"{runner.plugin}/{target}: not applied, nothing to roll back")
    shown = ", ".join(m.name for m in applied) or "none"
    raise RollbackError(f"{runner.plugin}/{target}: no such migration (applied: {shown})")


def _words(exc: Exception) -> str:
    from .health import describe_error

    return describe_error(exc)


def status(database: peewee.Database, sources: list[tuple[str, str]]) -> list[MigrationStatus]:
    rows = []
    for plugin, directory in sources:
        for migration in PluginRunner(database, directory, plugin).status():
            rows.append(MigrationStatus(plugin, migration.name, migration.applied))
    return rows
