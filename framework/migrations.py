"""Per-plugin migrations on peewee's own runner (``playhouse.migrations``).

Each plugin (and the core, as plugin ``core``) keeps numbered scripts in its
``migrations/`` folder. peewee's :class:`~playhouse.migrations.Runner` loads
and orders them and runs each in a transaction; plugbot only changes where
the history is written: one ``schema_version`` table with a row per
(plugin, version), so ``migrate --list`` can show every plugin at once.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee
from playhouse.migrations import Runner

from .db import utcnow


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
                self.History.delete().where((self.History.plugin == self.plugin)
                                            & (self.History.name == name)).execute()

    def _record(self, name: str, module):
        def record() -> None:
            doc = (module.__doc__ or "").strip().splitlines()
            self.History.create(plugin=self.plugin, version=_index(name),
                                name=name, description=doc[0] if doc else None)
        return record


def _index(name: str) -> int:
    digits = "".join(ch for ch in name.split("_", 1)[0] if ch.isdigit())
    return int(digits) if digits else -1


@dataclass
class MigrationStatus:
    plugin: str
    name: str
    applied_at: dt.datetime | None


def migrate(database: peewee.Database, sources: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Apply pending migrations of every (plugin, directory), in the given (dependency) order."""
    applied: dict[str, list[str]] = {}
    for plugin, directory in sources:
        applied[plugin] = PluginRunner(database, directory, plugin).up()
    return applied


def status(database: peewee.Database, sources: list[tuple[str, str]]) -> list[MigrationStatus]:
    rows = []
    for plugin, directory in sources:
        for migration in PluginRunner(database, directory, plugin).status():
            rows.append(MigrationStatus(plugin, migration.name, migration.applied))
    return rows
