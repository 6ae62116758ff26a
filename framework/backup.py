"""Database backup and restore for operators (``plugbot backup`` / ``plugbot restore``).

SQLite uses the online backup API, so a running bot can be backed up
safely. PostgreSQL uses its own ``pg_dump``/``pg_restore`` (custom format).
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from urllib.parse import urlparse

from .config import ConfigError


def backup(url: str, output: str | None = None) -> str:
    """Write a backup of the database at ``url``; return the file written."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        output = output or os.path.join("backups", f"bot-{stamp}.db")
        _mkdir(output)
        with sqlite3.connect(_sqlite_path(url)) as source, sqlite3.connect(output) as target:
            source.backup(target)
        return output
    if scheme in ("postgres", "postgresql"):
        output = output or os.path.join("backups", f"bot-{stamp}.dump")
        _mkdir(output)
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={output}", f"--dbname={url}"])
        return output
    raise ConfigError([f"database.url: cannot back up a {scheme!r} database"])


def restore(url: str, path: str) -> None:
    """Replace the database at ``url`` with the backup in ``path`` (stop the bot first)."""
    if not os.path.exists(path):
        raise ConfigError([f"restore: {path}: no such backup file"])
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        with sqlite3.connect(path) as source, sqlite3.connect(_sqlite_path(url)) as target:
            source.backup(target)
        return
    if scheme in ("postgres", "postgresql"):
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={url}", path])
        return
    raise ConfigError([f"database.url: cannot restore a {scheme!r} database"])


def _sqlite_path(url: str) -> str:
    return url[len("sqlite:///"):]


def _mkdir(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise ConfigError([f"{command[0]}: not installed; install the PostgreSQL client tools"])
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # The URL may hold a password: report the tool's message, never the command line.
        raise ConfigError([f"{command[0]} failed: {result.stderr.strip().splitlines()[-1:]}"])
