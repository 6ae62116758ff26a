"""Scheduled and on-demand backups of the bot's database, checked by restoring each one.

The files are written by the core's backup (``framework.backup_database``: SQLite's online
backup, or ``pg_dump``), the same as ``python -m framework backup``. Each new backup is then
restored into a scratch database (a temporary SQLite file, or a temporary PostgreSQL database
on the same server) and its rows counted: a backup that cannot be restored is no backup. Old
files are rotated (7 daily, 4 weekly, 12 monthly by default, :mod:`.rotation`); only files
named like the core's backups are ever deleted.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse, urlunparse

from framework import BackupError, Context, JobContext, arg, backup_database, restore_database

from .rotation import to_keep

log = logging.getLogger("plugbot.admin.backups")

BACKUP_NAME = re.compile(r"^bot-(\d{8}-\d{6})\.(db|dump)$")
LISTED = 30  # files /backups shows


@dataclass(frozen=True)
class BackupFile:
    path: str
    when: dt.datetime
    size: int

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


@dataclass(frozen=True)
class Outcome:
    """One backup made: the file, what its restore held, and the old files rotated away."""

    file: BackupFile
    tables: int | None           # None when verification is off
    rows: int | None
    removed: list[str]


def list_backups(directory: str) -> list[BackupFile]:
    """The core's backup files in ``directory``, newest first (other files are not ours)."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = BACKUP_NAME.match(name)
        if match is None:
            continue
        path = os.path.join(directory, name)
        when = dt.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=dt.UTC)
        found.append(BackupFile(path, when, os.path.getsize(path)))
    return sorted(found, key=lambda f: f.when, reverse=True)


def rotate(directory: str, settings: dict[str, Any]) -> list[str]:
    """Delete the backups the rotation no longer keeps; return their names."""
    files = list_backups(directory)
    kept = to_keep((f.when for f in files), settings["backup_keep_daily"], settings["backup_keep_weekly"],
                   settings["backup_keep_monthly"])
    removed = []
    for file in files:
        if file.when not in kept:
            os.remove(file.path)
            removed.append(file.name)
    return removed


def make_backup(url: str, settings: dict[str, Any], now: dt.datetime) -> Outcome:
    """Write a backup of ``url`` into ``backup_dir``, verify it, rotate; BackupError if any step fails."""
    directory = settings["backup_dir"]
    path = backup_database(url, os.path.join(directory, ""), now=now)
    tables = rows = None
    if settings["backup_verify"]:
        try:
            tables, rows = verify(url, path, settings["backup_scratch_url"])
        except BackupError as exc:
            # Kept for the operator to look at, under a name the rotation and /backups ignore.
            os.replace(path, path + ".unverified")
            raise BackupError(f"{os.path.basename(path)} could not be restored ({exc}); "
                              f"kept as {os.path.basename(path)}.unverified") from None
    removed = rotate(directory, settings)
    return Outcome(BackupFile(path, now, os.path.getsize(path)), tables, rows, removed)


# -- verification --------------------------------------------------------------------------------


def verify(url: str, path: str, scratch_url: str = "") -> tuple[int, int]:
    """Restore ``path`` into a scratch database and count its rows: (tables, rows).

    A restore the core refuses or that leaves no ``users`` table fails with BackupError.
    """
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        with tempfile.TemporaryDirectory(prefix="plugbot-verify-") as folder:
            scratch = os.path.join(folder, "scratch.db")
            restore_database(f"sqlite:///{scratch}", path)
            with contextlib.closing(sqlite3.connect(scratch)) as conn:
                names = [r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
                counts = {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}
    else:
        with _scratch_postgres(url, scratch_url) as scratch:
            restore_database(scratch, path, force=True)
            counts = _pg_counts(scratch)
    if "users" not in counts:
        raise BackupError("the restored database has no users table")
    return len(counts), sum(counts.values())


@contextlib.contextmanager
def _scratch_postgres(url: str, scratch_url: str) -> Iterator[str]:
    """The configured scratch database, else a temporary one on the bot's server, dropped afterwards."""
    if scratch_url:
        yield scratch_url
        return
    import psycopg2

    parsed = urlparse(url)
    name = f"{(parsed.path.lstrip('/') or 'plugbot')[:40]}_verify_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(url, connect_timeout=10)
    except psycopg2.Error as exc:
        raise BackupError(f"cannot reach the database to verify the backup: {str(exc).strip()[:200]}") from None
    admin.autocommit = True
    try:
        try:
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        except psycopg2.Error as exc:
            raise BackupError(f"cannot create a scratch database to verify the backup ({str(exc).strip()[:200]}); "
                              "give the bot's role CREATEDB or set backup_scratch_url") from None
        try:
            yield urlunparse(parsed._replace(path="/" + name))
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def _pg_counts(url: str) -> dict[str, int]:
    import psycopg2

    with contextlib.closing(psycopg2.connect(url, connect_timeout=10)) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
        names = [row[0] for row in cur.fetchall()]
        counts = {}
        for name in names:
            cur.execute('SELECT COUNT(*) FROM "{}"'.format(name.replace('"', '""')))
            counts[name] = cur.fetchone()[0]
        return counts


# -- the job and the commands --------------------------------------------------------------------


def register(register: Any) -> None:
    register.command("backup", backup_now, help="backup.help", permission="superadmin",
                     args=[arg.choice("action", ["now"])])
    register.command("backups", backups, help="backup.list_help", permission="superadmin")


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def nightly(job: JobContext) -> None:
    """The scheduled backup; a failure is told to the admins and fails the job (so /jobs shows it)."""
    try:
        outcome = make_backup(job.app.config["database"]["url"], job.settings, job.now())
    except BackupError as exc:
        log.error("scheduled backup failed: %s", exc)
        job.app.notify_admins(job.t("backup.failed", lang=job.app.config["default_language"], error=str(exc)))
        raise
    log.info("backup %s written (%s tables, %s rows); removed %s", outcome.file.name, outcome.tables,
             outcome.rows, outcome.removed)


def backup_now(ctx: Context, action: str) -> None:
    try:
        outcome = make_backup(ctx.app.config["database"]["url"], ctx.settings, ctx.now())
    except BackupError as exc:
        ctx.reply(ctx.t("backup.failed", error=str(exc)))
        return
    ctx.audit("backup_made", details={"file": outcome.file.name, "rows": outcome.rows})
    lines = [ctx.t("backup.done", file=outcome.file.name, size=_size(outcome.file.size))]
    if outcome.tables is not None:
        lines.append(ctx.t("backup.verified", tables=outcome.tables, rows=f"{outcome.rows:,}"))
    if outcome.removed:
        lines.append(ctx.t("backup.removed", count=len(outcome.removed)))
    ctx.reply("\n".join(lines))


def backups(ctx: Context) -> None:
    directory = ctx.settings["backup_dir"]
    files = list_backups(directory)
    if not files:
        ctx.reply(ctx.t("backup.none", directory=directory))
        return
    lines = [ctx.t("backup.list_header", count=len(files), size=_size(sum(f.size for f in files)),
                   directory=directory)]
    lines.extend(f"• {f.when:%Y-%m-%d %H:%M} — {f.name} — {_size(f.size)}" for f in files[:LISTED])
    ctx.reply("\n".join(lines))
