"""framework/health.py: one set of checks behind the webhook's ``/healthz`` and ``plugbot health``,
answered in words, reading the running bot's heartbeat (framework/heartbeat.py)."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import psycopg2
import pytest
import redis

from framework import connection_scope
from framework.config import ENV_OVERRIDES
from framework.health import app_health, describe_error
from framework.heartbeat import Heartbeat
from framework.models import BotProcess
from framework.testing import CLOSED_PORT_REDIS_URL
from framework.transports.webhook import make_wsgi_app

SECRET = "health-test-secret"


def healthz(app: Any) -> tuple[str, list[str]]:
    """GET /healthz on the bot's own webhook application: its status, and its JSON body written
    as the lines of `plugbot health`, so the two can be compared."""
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    body = json.loads(b"".join(make_wsgi_app(app, SECRET)(environ, start_response)))
    lines = [f"{name}: {'ok' if check['ok'] else 'failing'}" + (f" — {check['detail']}" if "detail" in check else "")
             for name, check in body["checks"].items()]
    return answer["status"], lines + ["healthy" if body["healthy"] else "unhealthy"]


def health_cli(tmp_path: Path, db_url: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "health.yaml"
    config.write_text(f"database:\n  url: {db_url}\nredis:\n  url: '{redis_url}'\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_")}
    return subprocess.run([sys.executable, "-m", "framework", "health", "--config", str(config)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def verdicts(lines: list[str]) -> list[tuple[str, str]]:
    """(check, ok|failing) per line; the details of `bot` carry ages that tick between two calls."""
    return [tuple(line.split(" — ")[0].split(": ")) if ": " in line else (line, "") for line in lines]


@pytest.mark.postgres
@pytest.mark.redis
def test_healthz_and_the_health_command_agree_when_redis_is_down(bot_factory, postgres_url: str, redis_url: str,
                                                                tmp_path: Path) -> None:
    bot = bot_factory({}, database="postgres", config={"redis": {"url": CLOSED_PORT_REDIS_URL}})
    Heartbeat(bot.app, "polling").beat()  # a running bot, as `run` keeps it
    status, served = healthz(bot.app)
    command = health_cli(tmp_path, postgres_url, CLOSED_PORT_REDIS_URL)

    assert status == "503 Service Unavailable"
    assert command.returncode == 1
    assert served[:2] == command.stdout.splitlines()[:2] == ["database: ok", "redis: failing — connection refused"]
    assert verdicts(served) == verdicts(command.stdout.splitlines()) == [
        ("database", "ok"), ("redis", "failing"), ("bot", "ok"), ("unhealthy", "")]
    assert "ConnectionError" not in command.stdout + command.stderr + "\n".join(served)

    # The same bot with Redis up: both healthy.
    up = bot_factory({}, db_url=postgres_url, config={"redis": {"url": redis_url}})
    status, served = healthz(up.app)
    command = health_cli(tmp_path, postgres_url, redis_url)
    assert (status, command.returncode) == ("200 OK", 0)
    assert verdicts(served) == verdicts(command.stdout.splitlines()) == [
        ("database", "ok"), ("redis", "ok"), ("bot", "ok"), ("healthy", "")]


def test_health_says_why_the_database_cannot_be_reached(tmp_path: Path) -> None:
    result = health_cli(tmp_path, "postgresql://postgres@127.0.0.1:1/plugbot", "")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["database: failing — connection refused",
                                          "bot: failing — unknown: the database cannot be read", "unhealthy"]


def ago(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


def bot_line(bot: Any) -> str:
    return [line for line in app_health(bot.app).lines() if line.startswith("bot: ")][0]


def set_process(**fields: Any) -> None:
    with connection_scope():
        BotProcess.update(**fields).execute()


def test_the_bot_check_follows_the_heartbeat_and_the_progress(bot_factory) -> None:
    bot = bot_factory({})
    assert bot_line(bot) == "bot: failing — not running: no bot process has run on this database"

    heartbeat = Heartbeat(bot.app, "polling")
    heartbeat.polled()
    heartbeat.beat()
    assert bot_line(bot).startswith(f"bot: ok — polling, pid {os.getpid()} on ")
    assert bot_line(bot).endswith("heartbeat 0 s ago, no update processed yet")
    bot.user(7).send("/help")
    assert bot_line(bot).endswith(", last update processed 0 s ago")

    set_process(polled_at=ago(minutes=5), poll_error="connection refused")  # no getUpdates answer for 5 min...
    assert bot_line(bot).startswith("bot: ok — ")  # ...but it is busy with a long batch: that is progress
    with connection_scope():
        bot.app.db.execute_sql("UPDATE processed_updates SET processed_at = ?",
                               (ago(minutes=4).replace(tzinfo=None).isoformat(" "),))
    assert bot_line(bot).startswith("bot: failing — stuck: Telegram has not answered getUpdates for 5 min: "
                                    "connection refused (polling, pid ")

    set_process(polled_at=ago(seconds=1), in_hand=3)
    assert bot_line(bot).startswith("bot: failing — stuck: 3 update(s) in hand and none processed for 4 min")
    set_process(in_hand=0)
    assert bot_line(bot).startswith("bot: ok — ")  # idle: an old last update is shown, not judged
    assert bot_line(bot).endswith(", last update processed 4 min ago")

    set_process(heartbeat_at=ago(minutes=3))  # killed: the heartbeat stopped
    assert bot_line(bot).startswith("bot: failing — not running (polling, pid ")
    assert ", heartbeat 3 min ago, " in bot_line(bot)

    heartbeat.stop()
    assert ", stopped 0 s ago, " in bot_line(bot) and bot_line(bot).startswith("bot: failing — not running")


def test_errors_are_described_in_words() -> None:
    def error_of(action: Any) -> str:
        try:
            action()
        except Exception as exc:  # noqa: BLE001
            return describe_error(exc)
        raise AssertionError("no error")

    assert error_of(lambda: psycopg2.connect("postgresql://postgres@127.0.0.1:1/x")) == "connection refused"
    assert error_of(lambda: redis.Redis.from_url(CLOSED_PORT_REDIS_URL).ping()) == "connection refused"
    assert error_of(lambda: redis.Redis.from_url("redis://no-such-host.invalid:6379/0").ping()) == "unknown host"
    assert describe_error(RuntimeError('connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  '
                                       'database "bot" does not exist\n')) == 'database "bot" does not exist'
    assert describe_error(RuntimeError("connection to server at \"db\", port 5432 failed: timeout expired")) \
        == "timed out"
    assert describe_error(RuntimeError("")) == "unexpected RuntimeError with no message"


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_named(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/plugbot_no_such_db"
    try:
        psycopg2.connect(missing)
    except psycopg2.Error as exc:
        assert describe_error(exc) == 'database "plugbot_no_such_db" does not exist'
    else:
        raise AssertionError("connected to a database that does not exist")
