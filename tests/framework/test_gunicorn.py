"""Webhook mode under gunicorn (framework/transports/gunicorn_settings.py, gunicorn.conf.py,
``create_app()``): ``python -m framework run`` becomes gunicorn with two worker processes, each
with its own application; an update POSTed as Telegram does is answered through the fake Bot API,
and /metrics sums both workers. Also ``webhook set`` and ``webhook info`` against the fake Bot API."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from framework.config import ENV_OVERRIDES
from framework.metrics import MULTIPROC_ENV
from framework.testing import eventually

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
HELLO_PATH = ROOT / "examples" / "hello"
TOKEN = "123456:AAHgunicorn-test-token-value"
SECRET = "gunicorn-test-webhook-secret"
USER_IDS = 7_310_042_000  # the users' ids start here: digits no metric value would show by chance


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.fakeapi import FakeApiProcess

    with FakeApiProcess(cwd=str(ROOT)) as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """This checkout and the hello example on the path; no setting of the test run's own."""
    env = {k: v for k, v in os.environ.items()
           if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_") and k != MULTIPROC_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HELLO_PATH)])
    env.update(extra)
    return env


def message(update_id: int, user: int, text: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        "from": {"id": user, "is_bot": False, "first_name": f"User{user}"}, "chat": {"id": user, "type": "private"}}}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.postgres
@pytest.mark.redis
def test_run_in_webhook_mode_serves_updates_under_gunicorn_and_metrics_sum_both_workers(
        tmp_path: Path, fake_api: Any, postgres_url: str, redis_url: str, redis_prefix: str) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"telegram:\n  token: '{TOKEN}'\n  api_url: {fake_api.url}\n  mode: webhook\n"
        f"  webhook:\n    secret_token: {SECRET}\n    listen: 127.0.0.1\n    port: {port}\n"
        "    gunicorn: {workers: 2, threads: 2}\n"
        f"database:\n  url: {postgres_url}\nredis:\n  url: {redis_url}\n  prefix: '{redis_prefix}'\n"
        "sender: {global_per_second: 0, private_interval: 0, group_per_minute: 0}\n"
        "plugins:\n  hello: {module: plugbot_hello}\n", encoding="utf-8")
    log_path = tmp_path / "gunicorn.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "framework", "run", "--config", str(config)],
                                   cwd=tmp_path, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        assert eventually(lambda: _answers(base + "/healthz"), timeout=90), log_path.read_text()
        # Both workers are up once each one's application introduced itself to Telegram (getMe; `run`
        # asked once too, before it became gunicorn, outside the workers' metrics).
        assert eventually(lambda: fake_api.stats()["requests"].get("getMe", 0) == 3, timeout=90), \
            log_path.read_text()
        health = requests.get(base + "/healthz", timeout=10)
        assert health.headers["Content-Type"] == "application/json"
        assert health.json()["checks"]["redis"] == {"ok": True}

        updates = [message(100 + n, USER_IDS + n, "/hello") for n in range(12)]
        for update in updates:
            answer = requests.post(base + "/webhook", json=update, timeout=10,
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert answer.status_code == 200
        forged = requests.post(base + "/webhook", json=message(999, 1, "/hello"), timeout=10)
        assert forged.status_code == 403
        # A token in a URL (a path some setups use) reaches the access log redacted.
        assert requests.get(f"{base}/bot{TOKEN}/webhook", timeout=10).status_code == 404
        stats = fake_api.wait(lambda s: s["replies"].get("sendMessage", 0) >= len(updates), timeout=60)
        assert stats["replies"]["sendMessage"] == len(updates)

        def counted() -> bool:
            series = samples(requests.get(base + "/metrics", timeout=10).text)
            return series.get(("plugbot_updates_total",
                               frozenset({"type": "message", "plugin": "hello"}.items()))) == len(updates)

        assert eventually(counted, timeout=30)
        # Whichever worker answers the scrape, it reports both: getMe was called once by each.
        for _ in range(6):
            with requests.Session() as fresh:  # a new connection, so gunicorn may pick another worker
                text = fresh.get(base + "/metrics", timeout=10).text
            series = samples(text)
            assert series[("plugbot_telegram_requests_total", frozenset({"method": "get_me"}.items()))] == 2
            assert series[("plugbot_updates_total",
                           frozenset({"type": "message", "plugin": "hello"}.items()))] == len(updates)
            assert TOKEN not in text and SECRET not in text and str(USER_IDS)[:-2] not in text
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    output = log_path.read_text()
    assert code == 0, output
    assert "Booting worker" in output and "gthread" in output
    assert '"POST /webhook" 200' in output  # the access log is on, and redacted:
    assert '"GET /bot***/webhook" 404' in output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output and SECRET not in output


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=5)
    except requests.RequestException:
        return False
    return True


def plugbot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "framework", *args], cwd=tmp_path, env=child_env(),
                          capture_output=True, text=True, timeout=120)


def test_webhook_set_asks_for_what_the_plugins_handle_and_info_shows_telegrams_view(
        tmp_path: Path, fake_api: Any) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"telegram:\n  token: '{TOKEN}'\n  api_url: {fake_api.url}\n"
        f"  webhook:\n    url: https://bot.example/hook?key={SECRET}\n    secret_token: {SECRET}\n"
        "    max_connections: 12\n"
        f"database:\n  url: sqlite:///{tmp_path}/bot.db\n"
        "plugins:\n  watcher: {module: plugins_for_tests.watcher}\n", encoding="utf-8")
    env_path = os.pathsep.join([str(ROOT), str(HELLO_PATH), str(HERE)])
    run = subprocess.run([sys.executable, "-m", "framework", "webhook", "set", "--config", str(config)],
                         cwd=tmp_path, env=child_env(PYTHONPATH=env_path), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "webhook set to https://bot.example/hook?key=***"
    # The watcher observes edits and member changes (chat_member is sent only when asked for by name).
    info = fake_api._session.get(f"{fake_api.url}/bot{TOKEN}/getWebhookInfo", timeout=10).json()["result"]
    assert info["max_connections"] == 12
    assert info["allowed_updates"] == ["callback_query", "chat_member", "edited_message", "message",
                                       "my_chat_member", "pre_checkout_query"]
    assert run.stdout.splitlines()[1] == ("allowed_updates: callback_query, chat_member, edited_message, message, "
                                          "my_chat_member, pre_checkout_query; max_connections: 12")

    fake_api.webhook(pending_update_count=7, last_error_date=1_700_000_000,
                     last_error_message="Wrong response from the webhook: 503 Service Unavailable")
    shown = subprocess.run([sys.executable, "-m", "framework", "webhook", "info", "--config", str(config)],
                           cwd=tmp_path, env=child_env(PYTHONPATH=env_path), capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "url: https://bot.example/hook"  # the query (here, a secret) never shown
    assert "pending_update_count: 7" in lines
    assert "max_connections: 12" in lines
    assert any(line.startswith("allowed_updates: ") and "chat_member" in line for line in lines)
    assert "last_error: 2023-11-14 22:13:20 UTC: Wrong response from the webhook: 503 Service Unavailable" in lines
    assert SECRET not in shown.stdout + shown.stderr and TOKEN not in shown.stdout + shown.stderr
    assert json.dumps(info)  # what Telegram holds is plain JSON
