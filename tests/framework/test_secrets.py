"""Secrets never leave the process: each path that used to leak one runs with known secrets, and
everything the process wrote — stdout, stderr, the log, every database row, every Redis value,
every message sent through the fake Bot API — is searched for them in every form."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import plugins_for_tests
import pytest
import requests

from framework.config import ENV_OVERRIDES
from framework.db import connection_scope, database
from framework.llm import LLMService, LlmSettings
from framework.logs import HANDLER_NAME, configure_logging
from framework.redaction import describe_error, error_text, redact, register_secret, register_url_password

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
PYTHON = sys.executable

TOKEN = "123456789:AAHsecretHalfOfTheBotToken-xyz"
WEBHOOK_SECRET = "wh-s3cret/with+odd=chars"
DB_PASSWORD = "pg-S3cret/pass word"
LLM_KEY = "sk-test-LlmKey0123456789abcdef"


def forms(secret: str) -> set[str]:
    """Every way a secret could show: raw, URL-quoted, escaped, and the token's secret half."""
    found = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), repr(secret)[1:-1],
             json.dumps(secret)[1:-1]}
    if ":" in secret:
        found.add(secret.split(":", 1)[1])
    return found


def leaks(text: str, *secrets: str) -> list[str]:
    return sorted(form for secret in secrets for form in forms(secret) if form in text)


@pytest.fixture(autouse=True)
def _paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "hello"))
    monkeypatch.syspath_prepend(str(HERE))
    for var in ENV_OVERRIDES:
        monkeypatch.delenv(var, raising=False)
    plugins_for_tests.reset()


@pytest.fixture
def log_stream() -> Any:
    """The JSON log at DEBUG, as ``run`` writes it, into a buffer."""
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    yield stream
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def plugbot(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "examples" / "hello"), str(HERE)])
    environ.update(env)
    return subprocess.run([PYTHON, "-m", "framework", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120)


def every_row() -> str:
    """Every row of every table of the bound database, as text."""
    with connection_scope():
        return "\n".join(repr(database.execute_sql(f'SELECT * FROM "{table}"').fetchall())
                         for table in database.get_tables())


def every_redis_value(app: Any) -> str:
    client, prefix = app.redis, app.config["redis"]["prefix"]
    if client is None:
        return ""
    values = []
    for key in client.scan_iter(f"{prefix}*"):
        kind = client.type(key)
        read = {"string": client.get, "hash": client.hgetall, "list": lambda k: client.lrange(k, 0, -1),
                "set": client.smembers, "zset": lambda k: client.zrange(k, 0, -1)}.get(kind)
        values.append(f"{key}={read(key) if read else kind}")
    return "\n".join(values)


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


# -- a handler's network error ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite+memory", pytest.param("postgres+redis", marks=[pytest.mark.postgres,
                                                                                             pytest.mark.redis])])
def test_a_handlers_network_error_reaches_no_chat_row_log_or_cli_with_a_secret(
        bot_factory, request: pytest.FixtureRequest, tmp_path: Path, capsys, log_stream, backend: str) -> None:
    """The error quotes a URL carrying the token and the webhook secret: the admin's notice, /plugins,
    the plugin_states and job_runs rows, the log and the ``plugins`` command show it without them."""
    if backend == "sqlite+memory":
        db_url = f"sqlite:///{tmp_path}/bot.db"
    else:
        db_url = with_password(request.getfixturevalue("postgres_url"), DB_PASSWORD)  # trust: never asked for
    url = (f"http://127.0.0.1:1/bot{TOKEN}/sendMessage?secret_token={quote(WEBHOOK_SECRET, safe='')}"
           f"&raw={WEBHOOK_SECRET}")
    config = {"telegram": {"token": TOKEN, "webhook": {"secret_token": WEBHOOK_SECRET}}}
    bot = bot_factory({"leaky": {"module": "plugins_for_tests.leaky", "url": url}}, db_url=db_url,
                      redis=backend == "postgres+redis", admins=(99,), config=config)
    apologies = [bot.user(user).send("/leak") for user in range(1, 6)]  # five users: the breaker pauses it
    bot.run_job("leaky.sync")
    listing = bot.user(99).send("/plugins")

    notices = [c.text for c in bot.telegram.calls if c.chat_id == 99 and c.text and "leaky" in c.text]
    assert notices and "/bot***/sendMessage" in notices[0]  # the path really ran, and was redacted
    assert all(replies for replies in apologies)
    assert "ConnectionError" in listing[0].text
    sent = "\n".join(repr(call.params) for call in bot.telegram.calls)
    rows = every_row()
    assert "ConnectionError" in rows  # plugin_states.last_error and job_runs.last_error were written
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"database:\n  url: {db_url}\nplugins:\n  leaky:\n    module: plugins_for_tests.leaky\n"
                   f"    url: ''\n", encoding="utf-8")
    cli = plugbot(tmp_path, "plugins", "--config", str(cfg),
                  env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET})
    assert cli.returncode == 0, cli.stderr
    assert "last error: ConnectionError" in cli.stdout
    captured = capsys.readouterr()
    everything = "\n".join([sent, rows, every_redis_value(bot.app), log_stream.getvalue(), captured.out,
                            captured.err, cli.stdout, cli.stderr])
    assert leaks(everything, TOKEN, WEBHOOK_SECRET, DB_PASSWORD) == []


# -- the command line with an unreachable Bot API -----------------------------------------------------------


@pytest.mark.parametrize("command", ["webhook set", "run"])
def test_the_cli_with_an_unreachable_bot_api_says_so_in_one_line_without_a_secret(tmp_path: Path,
                                                                                 command: str) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"database:\n  url: sqlite:///{tmp_path}/bot.db\nlogging:\n  level: DEBUG\n  format: json\n"
                   "telegram:\n  api_url: http://127.0.0.1:1\n  webhook:\n    url: https://bot.example/hook\n"
                   "sender:\n  max_retries: 1\n", encoding="utf-8")
    result = plugbot(tmp_path, *command.split(), "--config", str(cfg),
                     env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET})
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (f"{command.split()[0]}: telegram.api_url: cannot reach the Bot API: "
                                              "connection refused")
    assert "Traceback" not in result.stderr
    # The retries were logged (the HTTP client's errors name the host, not the request URL with the token).
    assert "retry 1/1" in result.stderr
    stored = (tmp_path / "bot.db").read_bytes().decode("latin-1") if (tmp_path / "bot.db").exists() else ""
    assert leaks(result.stdout + result.stderr + stored, TOKEN, WEBHOOK_SECRET) == []


def test_an_uncaught_traceback_in_any_thread_is_redacted() -> None:
    script = (f"from framework.redaction import install_excepthooks, register_token\n"
              f"import threading\n"
              f"register_token({TOKEN!r}); install_excepthooks()\n"
              f"def fail(): raise RuntimeError('url /bot' + {TOKEN!r} + '/getMe')\n"
              f"thread = threading.Thread(target=fail); thread.start(); thread.join()\n"
              f"fail()\n")
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([PYTHON, "-c", script], env=environ, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("RuntimeError: url /bot***/getMe") == 2
    assert leaks(result.stderr, TOKEN) == []


# -- LLM keys ---------------------------------------------------------------------------------------------


class EchoingVendor:
    """An HTTP client that fails the way requests does on a header it refuses: quoting the value."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    def post(self, url: str, json: Any, headers: dict[str, str], timeout: float) -> Any:
        self.headers.append(headers)
        raise requests.exceptions.InvalidHeader(
            f"Invalid leading whitespace, reserved character(s), or return character(s) in header value: "
            f"{headers['Authorization']!r}")


def test_an_llm_key_with_a_trailing_newline_is_used_stripped_and_never_logged(log_stream) -> None:
    http = EchoingVendor()
    service = LLMService.from_env(lambda: LlmSettings("openai"), environ={"OPENAI_API_KEY": LLM_KEY + "\n"},
                                  retries=0, http=http)  # type: ignore[arg-type]
    result = service.complete([{"role": "user", "content": "hi"}], user_id=None, fallback=lambda: "local answer",
                              cache=False)
    assert (result.text, result.fell_back) == ("local answer", True)
    assert http.headers[0]["Authorization"] == f"Bearer {LLM_KEY}"  # the newline an env file left is gone
    log = log_stream.getvalue()
    assert "LLM vendor openai failed" in log
    assert leaks(log, LLM_KEY, LLM_KEY + "\n") == []


def test_every_form_of_a_secret_is_redacted() -> None:
    key = "sk-escaped-FormOfAKey42"
    register_secret(key + "\n")  # registered as found in the environment, newline and all
    for text in (key, key + "\n", repr(key + "\n"), json.dumps(key + "\n"), quote(key + "\n"),
                 quote(key, safe=""), json.dumps({"Authorization": f"Bearer {key}\n"})):
        assert key not in redact(text) and "FormOfAKey" not in redact(text), text
    assert redact(f"header 'Bearer {key}\\n' refused") == "header 'Bearer ***' refused"


@pytest.mark.parametrize("url", ["postgresql://bot:pw%2Fdb-S3cret@db:5432/bot", "redis://:pw%2Fdb-S3cret@redis:6379/0"])
def test_passwords_in_database_and_redis_urls_are_redacted_quoted_or_not(url: str) -> None:
    register_url_password(url)
    assert redact(f"could not connect with {url}") == f"could not connect with {url.replace('pw%2Fdb-S3cret', '***')}"
    assert redact(url.replace("pw%2Fdb-S3cret", "pw/db-S3cret")) == url.replace("pw%2Fdb-S3cret", "***")
    assert "S3cret" not in redact("password 'pw/db-S3cret' refused")
    assert "S3cret" not in describe_error(RuntimeError("FATAL: password pw/db-S3cret is wrong"))
    assert "S3cret" not in error_text(RuntimeError(url))


def test_a_short_url_password_is_redacted_in_its_url_but_leaves_the_word_alone(bot_factory) -> None:
    """A development ``bot:secret@db`` must not blank "secret" out of every message the bot sends."""
    register_url_password("postgresql://bot:secret@db:5432/bot")
    assert redact("connecting to postgresql://bot:secret@db:5432/bot") == "connecting to postgresql://bot:***@db:5432/bot"
    bot = bot_factory({"hello": {"module": "plugbot_hello"}})
    bot.user(7).send("/nickname")
    (reply,) = bot.user(7).send("a secret agent")
    assert "a secret agent" in reply.text
