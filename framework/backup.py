"""Database backup and restore for operators (``plugbot backup`` / ``plugbot restore``).

Backups: SQLite through its online backup API (safe while the bot runs),
PostgreSQL through ``pg_dump`` (custom format). Each file is written under a
temporary name, checked (``PRAGMA integrity_check``, ``pg_restore --list``)
and only then given its timestamped name, so a file named like a backup is one.

Restores are all or nothing: SQLite copies the backup in one step of its
backup API; PostgreSQL replays the dump through ``psql`` in one transaction
that first drops every table of the target, so a table the backup lacks (a
plugin enabled since) cannot make the restore fail halfway. A target that
holds tables is only replaced with ``force``. The bot's Redis state (cache,
sessions, rate limits) names rows of the old database, so it is dropped too.

Every failure is a :class:`BackupError` with one line for the operator; a
database URL's password never appears in one, nor on a command line.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote, urlparse, urlunparse

from .health import describe_error
from .redisconn import drop_bot_state

DEFAULT_DIR = "backups"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is one line for the operator.

    ``refused``: nothing was attempted because the operator has to decide (``--force``).
    """

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass
class RestoreResult:
    target: str                  # "database bot on db:5432" or the SQLite file
    tables: int                  # tables in the restored database
    redis_keys: int | None       # Redis keys dropped; None without Redis


# -- backup --------------------------------------------------------------------------------------


def backup(url: str, output: str | None = None, *, now: dt.datetime | None = None) -> str:
    """Write a checked backup of the database at ``url``; return the file written.

    ``output`` is a file, or a directory (existing, or ending in ``/``) for a
    ``bot-<UTC timestamp>`` file; by default ``backups/``.
    """
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        path = _output_path(output, f"bot-{stamp}.db")
        _write_checked(path, lambda partial: _sqlite_backup(_sqlite_path(url), partial), _sqlite_verify)
        return path
    if scheme in ("postgres", "postgresql"):
        path = _output_path(output, f"bot-{stamp}.dump")
        _require_dump_client(url)
        _write_checked(path, lambda partial: _run(["pg_dump", "--format=custom", "--no-owner",
                                                   f"--file={partial}", f"--dbname={_public_url(url)}"], url),
                       _pg_verify)
        return path
    raise BackupError(f"database.url: cannot back up a {scheme!r} database")


def _output_path(output: str | None, name: str) -> str:
    if output is None:
        return os.path.join(DEFAULT_DIR, name)
    if output.endswith(("/", os.sep)) or os.path.isdir(output):
        return os.path.join(output, name)
    return output


def _write_checked(path: str, write: Any, verify: Any) -> None:
    """Write to ``<path>.partial``, verify, then rename: a failed or broken backup leaves nothing."""
    if os.path.exists(path):
        raise BackupError(f"{path} already exists; choose another --output", refused=True)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {directory}: {describe_error(exc)}") from None
    if not os.access(directory, os.W_OK):
        raise BackupError(f"cannot write to {directory}: permission denied")
    partial = path + ".partial"
    try:
        write(partial)
        problem = verify(partial)
        if problem:
            raise BackupError(f"the file written does not check out ({problem}); nothing was kept")
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)


# -- restore -------------------------------------------------------------------------------------


def restore(url: str, path: str, *, force: bool = False, redis_client: Any = None,
            redis_prefix: str = "") -> RestoreResult:
    """Replace the database at ``url`` with the backup in ``path``, all or nothing.

    A target with tables is refused unless ``force``. With ``redis_client``,
    Redis must answer before anything is touched, and the bot's keys under
    ``redis_prefix`` are dropped after the database was restored.
    """
    if not os.path.isfile(path):
        raise BackupError(f"{path}: no such backup file")
    scheme = urlparse(url).scheme
    if scheme not in ("sqlite", "postgres", "postgresql"):
        raise BackupError(f"database.url: cannot restore a {scheme!r} database")
    if redis_client is not None:
        try:
            redis_client.ping()
        except Exception as exc:  # noqa: BLE001 - refused before anything changed
            raise BackupError(f"redis: {describe_error(exc)}; a restore also drops the bot's cached "
                              "state in Redis, so Redis must be up (nothing was changed)") from None
    if scheme == "sqlite":
        target, tables = _restore_sqlite(_sqlite_path(url), path, force)
    else:
        target, tables = _restore_postgres(url, path, force)
    keys = None
    if redis_client is not None:
        try:
            keys = drop_bot_state(redis_client, redis_prefix)
        except Exception as exc:  # noqa: BLE001
            raise BackupError(f"the database was restored, but the bot's Redis state could not be "
                              f"dropped ({describe_error(exc)}): run `python -m framework clear-redis` "
                              "before starting the bot") from None
    return RestoreResult(target, tables, keys)


def _refuse_non_empty(target: str, existing: list[str], in_backup: set[str] | None) -> None:
    extra = sorted(set(existing) - in_backup) if in_backup is not None else []
    shown = ", ".join(existing[:12]) + (f", … ({len(existing) - 12} more)" if len(existing) > 12 else "")
    note = f"; {len(extra)} of them are not in the backup: {', '.join(extra)}" if extra else ""
    raise BackupError(f"{target} is not empty ({len(existing)} tables: {shown}{note}). "
                      "--force drops every one of these tables, with their rows, and puts the backup's in "
                      "their place", refused=True)


# -- SQLite --------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> str:
    return url[len("sqlite:///"):]


def _sqlite_backup(source_path: str, target_path: str) -> None:
    if not os.path.isfile(source_path):
        raise BackupError(f"no SQLite database at {source_path}")
    try:
        with contextlib.closing(sqlite3.connect(source_path)) as source, \
                contextlib.closing(sqlite3.connect(target_path)) as target:
            source.backup(target)
            # The copy inherits the bot's WAL mode; a backup is one self-contained file.
            target.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise BackupError(f"{source_path}: {describe_error(exc)}") from None


def _sqlite_verify(path: str) -> str | None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.Error as exc:
        return describe_error(exc)
    return None if result and result[0] == "ok" else f"integrity_check: {result[0] if result else 'no answer'}"


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY name").fetchall()
    return [row[0] for row in rows]


def _restore_sqlite(target_path: str, path: str, force: bool) -> tuple[str, int]:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
            check = source.execute("PRAGMA integrity_check").fetchone()
            in_backup = _sqlite_tables(source)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} is not a SQLite backup ({describe_error(exc)})") from None
    if not check or check[0] != "ok":
        raise BackupError(f"{path} is damaged (integrity_check: {check[0] if check else 'no answer'})")
    directory = os.path.dirname(os.path.abspath(target_path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {directory}: {describe_error(exc)}") from None
    try:
        with contextlib.closing(sqlite3.connect(target_path)) as target:
            existing = _sqlite_tables(target)
            if existing and not force:
                _refuse_non_empty(target_path, existing, set(in_backup))
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
                source.backup(target)  # one step: the target's pages are replaced in one transaction
    except sqlite3.Error as exc:
        raise BackupError(f"{target_path}: {describe_error(exc)} (nothing was changed)") from None
    return target_path, len(in_backup)


# -- PostgreSQL ----------------------------------------------------------------------------------


def _public_url(url: str) -> str:
    """``url`` without its password (which goes to the tools through PGPASSWORD instead)."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    host = parsed.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parsed.username}@" if parsed.username else "") + host + (f":{parsed.port}" if parsed.port else "")
    return urlunparse(parsed._replace(netloc=netloc))


def _tool_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    password = urlparse(url).password
    if password is not None:
        env["PGPASSWORD"] = unquote(password)
    return env


def describe_target(url: str) -> str:
    """``database bot on db:5432`` (never the password)."""
    parsed = urlparse(url)
    name = unquote(parsed.path.lstrip("/")) or "postgres"
    return f"database {name} on {parsed.hostname or 'localhost'}:{parsed.port or 5432}"


def _connect(url: str) -> Any:
    import psycopg2

    try:
        return psycopg2.connect(url, connect_timeout=10)
    except psycopg2.Error as exc:
        raise BackupError(f"{describe_target(url)}: {describe_error(exc)}") from None


def _server_major(url: str) -> int:
    with contextlib.closing(_connect(url)) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version_num")
        return int(cur.fetchone()[0]) // 10000


def _tool_major(tool: str) -> int:
    _require_tool(tool)
    out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else 0


def _require_tool(tool: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool}: not installed; install the PostgreSQL client tools (postgresql-client)")


def _require_dump_client(url: str) -> None:
    """pg_dump refuses a newer server; say so in advance, with the fix."""
    client, server = _tool_major("pg_dump"), _server_major(url)
    if client < server:
        raise BackupError(f"pg_dump {client} cannot dump a PostgreSQL {server} server: install the PostgreSQL "
                          f"{server} client tools (Docker image: --build-arg PG_MAJOR={server}; "
                          "see docs/deployment.md)")


def _pg_verify(path: str) -> str | None:
    result = subprocess.run(["pg_restore", "--list", path], capture_output=True, text=True)
    return _tool_message(result.stderr) if result.returncode != 0 else None


def _pg_backup_tables(path: str) -> set[str]:
    """Tables a custom-format dump holds (from its table of contents); refuses anything else."""
    _require_tool("pg_restore")
    result = subprocess.run(["pg_restore", "--list", path], capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{path} cannot be read as a PostgreSQL backup ({_tool_message(result.stderr)})")
    return {m.group(1) for m in re.finditer(r"^\d+; \d+ \d+ TABLE (?!DATA )\S+ (\S+) ", result.stdout, re.MULTILINE)}


def _pg_tables(url: str) -> list[str]:
    with contextlib.closing(_connect(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")
        return [row[0] for row in cur.fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _restore_postgres(url: str, path: str, force: bool) -> tuple[str, int]:
    target = describe_target(url)
    in_backup = _pg_backup_tables(path)
    _require_tool("psql")
    try:
        existing = _pg_tables(url)
    except BackupError as exc:
        if "does not exist" in str(exc) and "database" in str(exc):
            raise BackupError(f"{exc}: create it first (an empty database, e.g. `createdb`), then restore "
                              "into it") from None
        raise
    if existing and not force:
        _refuse_non_empty(target, existing, in_backup)
    preamble = "BEGIN;\n"
    if existing:
        preamble += f"DROP TABLE IF EXISTS {', '.join(_quote(t) for t in existing)} CASCADE;\n"
    env = _tool_env(url)
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        psql = subprocess.Popen(["psql", "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1",
                                 f"--dbname={_public_url(url)}"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env)
        dump = subprocess.Popen(["pg_restore", "--no-owner", "--no-privileges", "--file=-", path],
                                stdout=subprocess.PIPE, stderr=restore_err, env=env)
        dump_ok = _feed(psql.stdin, preamble.encode(), dump)
        psql.wait()
        if not dump_ok:
            raise BackupError(f"pg_restore could not read {path} ({_tool_message(_read(restore_err))}); "
                              "nothing was changed")
        if psql.returncode != 0:
            hint = _version_hint(url)
            raise BackupError(f"{_tool_message(_read(psql_err))}; nothing was changed{hint}")
    return target, len(in_backup)


def _feed(stdin: IO[bytes] | None, preamble: bytes, dump: subprocess.Popen[bytes]) -> bool:
    """Pipe the dump's SQL into psql inside one transaction, and commit only if pg_restore read the
    whole archive: a dump that breaks off halfway must not be committed as if it were all."""
    assert stdin is not None and dump.stdout is not None
    ok = False
    try:
        stdin.write(preamble)
        shutil.copyfileobj(dump.stdout, stdin, 1 << 20)
        ok = dump.wait() == 0
        stdin.write(b"COMMIT;\n" if ok else b"ROLLBACK;\n")
    except BrokenPipeError:  # psql stopped at an error: its transaction is rolled back
        ok = True  # the archive is not to blame; psql's own message says what failed
        dump.kill()
    finally:
        dump.stdout.close()
        dump.wait()
        with contextlib.suppress(BrokenPipeError):
            stdin.close()
    return ok


def _version_hint(url: str) -> str:
    with contextlib.suppress(Exception):
        client, server = _tool_major("pg_restore"), _server_major(url)
        if client > server:
            return (f" (pg_restore {client} writes SQL for PostgreSQL {client}, this server is {server}: use the "
                    f"PostgreSQL {server} client tools; see docs/deployment.md)")
    return ""


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def _tool_message(stderr: str) -> str:
    """The line of a tool's stderr that says what failed, in words."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR:" in line or "error:" in line or "FATAL:" in line]
    line = (errors or lines or ["no message"])[-1 if not errors else 0]
    line = re.sub(r"^(psql|pg_restore|pg_dump):(<stdin>:\d+:)?\s*(error:)?\s*", "", line)
    return describe_error(RuntimeError(line))


def _run(command: list[str], url: str) -> None:
    _require_tool(command[0])
    result = subprocess.run(command, capture_output=True, text=True, env=_tool_env(url))
    if result.returncode != 0:
        # Only the tool's own message: the command line may name the database.
        raise BackupError(f"{command[0]} failed: {_tool_message(result.stderr)}")
