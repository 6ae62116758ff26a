from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from telebot import apihelper

from framework.config import ENV_OVERRIDES
from framework.testing import eventually
from framework.transports.polling import run_polling


class RecordingEvent(threading.Event):
    """``app.stopping`` whose waits are recorded instead of slept."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.is_set()


class ScriptedApi:
    """Answers get_updates from a script; each entry is a list of updates or an exception."""

    def __init__(self, app: FakeApp, script: list[Any]) -> None:
        self.app = app
        self.script = list(script)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, method: str, **params: Any) -> Any:
        self.calls.append((method, params))
        if method != "get_updates":
            return True
        self.app.events.append(("get", params["offset"]))
        if not self.script:
            self.app.stopping.set()
            return []
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeApp:
    def __init__(self, script: list[Any]) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.stopping = RecordingEvent()
        self.api = ScriptedApi(self, script)
        self.config = {"telegram": {}, "queue": {"max_backlog": 100}}
        self.sender = None

        self.backlogs: list[int] = []  # what backlog() answers, one entry per call (then 0)
        self.store_errors: list[Exception] = []  # raised by the next feed_many calls

    def feed(self, update: dict[str, Any]) -> None:
        self.feed_many([update])

    def feed_many(self, updates: list[dict[str, Any]]) -> None:
        if self.store_errors:
            raise self.store_errors.pop(0)
        self.events.append(("store", *(u["update_id"] for u in updates)))

    def backlog(self) -> int:
        self.events.append(("backlog",))
        return self.backlogs.pop(0) if self.backlogs else 0

    def join(self, timeout: float | None = None) -> bool:
        raise AssertionError("polling stores a batch and polls again: it never waits for processing")

    def process_update(self, update: dict[str, Any]) -> None:
        raise AssertionError("polling stores updates for the queue, it never processes inline")


def updates(*ids: int) -> list[dict[str, Any]]:
    return [{"update_id": n, "message": {"message_id": n, "text": str(n)}} for n in ids]


def test_a_batch_is_stored_before_the_next_offset_acknowledges_it_and_never_waited_for() -> None:
    app = FakeApp([updates(10, 11), [], updates(12)])
    run_polling(app, timeout=5, limit=50, allowed_updates=["message"])
    assert app.events == [
        ("get", None), ("store", 10, 11), ("backlog",),
        ("get", 12),
        ("get", 12), ("store", 12), ("backlog",),
        ("get", 13),
    ]
    first_method, first_params = app.api.calls[0]
    assert first_method == "delete_webhook"  # getUpdates is refused while a webhook is set
    method, params = app.api.calls[1]
    assert method == "get_updates"
    assert params == {"offset": None, "limit": 50, "timeout": 5, "long_polling_timeout": 5,
                      "allowed_updates": ["message"]}


def test_network_errors_back_off_and_polling_continues() -> None:
    server_error = apihelper.ApiTelegramException("getUpdates", None, {"error_code": 502, "description": "Bad"})
    app = FakeApp([
        requests.exceptions.ConnectionError("down"),
        requests.exceptions.ReadTimeout("slow"),
        server_error,
        updates(1),
        requests.exceptions.ConnectionError("down again"),
    ])
    run_polling(app, backoff_base=1.0, backoff_max=3.0)
    assert app.stopping.waits == [1.0, 2.0, 3.0, 1.0]  # doubling, capped, reset after a success
    assert ("store", 1) in app.events


def test_a_batch_that_cannot_be_stored_is_not_acknowledged() -> None:
    import peewee

    app = FakeApp([updates(5, 6), updates(5, 6)])
    app.store_errors.append(peewee.OperationalError("database is down"))
    run_polling(app, backoff_base=1.0)
    gets = [event for event in app.events if event[0] == "get"]
    assert gets == [("get", None), ("get", None), ("get", 7)]  # asked again from the same offset
    assert ("store", 5, 6) in app.events
    assert app.stopping.waits == [1.0]


def test_polling_pauses_while_the_backlog_is_over_the_limit() -> None:
    app = FakeApp([updates(1), updates(2)])
    app.backlogs = [250, 150, 90]  # the workers catch up: over, over, under max_backlog (100)
    run_polling(app)
    assert app.events[:6] == [("get", None), ("store", 1), ("backlog",), ("backlog",), ("backlog",), ("get", 2)]
    assert len(app.stopping.waits) == 2


def test_a_revoked_token_stops_polling() -> None:
    unauthorized = apihelper.ApiTelegramException("getUpdates", None,
                                                  {"error_code": 401, "description": "Unauthorized"})
    app = FakeApp([unauthorized])
    with pytest.raises(apihelper.ApiTelegramException):
        run_polling(app)


def test_stopping_before_start_makes_no_request() -> None:
    app = FakeApp([updates(1)])
    app.stopping.set()
    run_polling(app)
    assert [method for method, _ in app.api.calls] == ["delete_webhook"]


def test_parsed_update_objects_are_refused() -> None:
    app = FakeApp([[object()]])
    with pytest.raises(TypeError, match="raw update dicts"):
        run_polling(app)


class BlockingApi:
    """A Bot API whose long poll never returns by itself, as Telegram's does while nobody writes."""

    def __init__(self) -> None:
        self.polls = 0
        self.release = threading.Event()

    def call(self, method: str, **params: Any) -> Any:
        if method == "get_updates":
            self.polls += 1
            self.release.wait(60)
            return []
        return True


def test_stopping_interrupts_a_long_poll_in_flight() -> None:
    app = FakeApp([])
    app.stopping = threading.Event()
    app.api = BlockingApi()
    loop = threading.Thread(target=run_polling, args=(app,), kwargs={"timeout": 25})
    loop.start()
    assert eventually(lambda: app.api.polls == 1)
    app.stopping.set()
    loop.join(10)
    stopped_first = not loop.is_alive()
    app.api.release.set()  # let the abandoned poll end, whatever happened
    loop.join(10)
    assert stopped_first, "run_polling waited for the long poll to come back"
    assert app.api.polls == 1


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def polled(self) -> None:
        self.events.append("polled")

    def poll_failed(self, reason: str) -> None:
        self.events.append(f"failed: {reason}")


def test_progress_hears_every_answer_and_every_failure_in_words() -> None:
    bad_gateway = apihelper.ApiTelegramException("getUpdates", None, {"error_code": 502, "description": "Bad Gateway"})
    refused = requests.exceptions.ConnectionError("Max retries exceeded")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")  # how requests chains the socket error
    app = FakeApp([updates(1), bad_gateway, refused])
    progress = Recorder()
    run_polling(app, backoff_base=0.0, progress=progress)
    assert progress.events == ["polled", "failed: HTTP 502: Bad Gateway", "failed: connection refused", "polled"]


# -- a real bot process told to stop -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "555000222:STOP-test-token"


def start_bot(tmp_path: Path, api_url: str, plugins: dict[str, Any], timeout: int) -> subprocess.Popen[bytes]:
    config = {"telegram": {"token": TOKEN, "api_url": api_url, "mode": "polling",
                           "polling": {"timeout": timeout, "limit": 100}},
              "database": {"url": f"sqlite:///{tmp_path}/bot.db"}, "workers": 2,
              "logging": {"level": "INFO", "format": "plain"},
              "sender": {"global_per_second": 0, "private_interval": 0.0, "group_per_minute": 0},
              "plugins": plugins}
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and not k.startswith("PLUGBOT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests" / "framework")])
    log = open(tmp_path / "bot.log", "ab")  # noqa: SIM115 - the child holds it; closed by the OS at exit
    return subprocess.Popen([sys.executable, "-m", "framework", "run", "--config", str(path)], cwd=tmp_path,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_when(bot: subprocess.Popen[bytes], server: Any, ready: Any, log: Path) -> tuple[dict[str, Any], int]:
    """SIGTERM the bot once the fake server's stats satisfy ``ready``; (those stats, exit code)."""
    try:
        at_signal = server.wait(lambda s: ready(s) or bot.poll() is not None, timeout=120, interval=0.05)
        assert bot.poll() is None, log.read_text()
        bot.send_signal(signal.SIGTERM)
        return at_signal, bot.wait(60)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Any:
    """benchmarks/fakeapi.py's server in a process of its own: Telegram over HTTP, with real long polls."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.fakeapi import FakeApiProcess

    with FakeApiProcess(cwd=str(ROOT)) as server:
        yield server


def test_sigterm_ends_an_idle_polling_bot_before_its_long_poll_would_return(tmp_path: Path, fake_api: Any) -> None:
    bot = start_bot(tmp_path, fake_api.url, {}, timeout=25)
    held, code = stop_when(bot, fake_api, lambda s: s["polls_waiting"] >= 1, tmp_path / "bot.log")
    after = fake_api.stats()  # the bot has exited: the server's clock says when, on the poll's own clock
    log = (tmp_path / "bot.log").read_text()
    assert after["now"] < held["poll_deadline"], "the bot waited for its long poll to come back"
    assert code == 0, log
    assert after["requests"]["getUpdates"] == 1
    assert "plugbot stopped" in log and "Traceback" not in log
    with sqlite3.connect(tmp_path / "bot.db") as db:  # its last heartbeat says it stopped
        assert db.execute("SELECT count(*) FROM bot_processes WHERE stopped_at IS NOT NULL").fetchone() == (1,)


def test_sigterm_mid_batch_leaves_the_rest_stored_for_the_next_start(tmp_path: Path, fake_api: Any) -> None:
    from benchmarks.workloads import UpdateFactory

    factory = UpdateFactory(first_update_id=1)
    fake_api.load([factory.message(chat, f"note {chat}") for chat in range(12)])  # 2 workers: ~2 s of work
    bot = start_bot(tmp_path, fake_api.url, {"slow": {"module": "plugins_for_tests.slow"}}, timeout=25)
    at_signal, code = stop_when(bot, fake_api, lambda s: s["reply_count"] >= 1, tmp_path / "bot.log")
    assert at_signal["reply_count"] < 12  # the signal came mid-batch
    assert code == 0, (tmp_path / "bot.log").read_text()
    # The whole batch was stored and acknowledged at once; what was not processed waits in the table.
    assert fake_api.stats()["max_offset"] == 13
    with sqlite3.connect(tmp_path / "bot.db") as db:
        left = db.execute("SELECT count(*) FROM incoming_updates").fetchone()[0]
    assert left == 12 - len(fake_api.replies())
    assert left > 0  # the stop did not wait for the batch
    bot = start_bot(tmp_path, fake_api.url, {"slow": {"module": "plugins_for_tests.slow"}}, timeout=25)
    _, code = stop_when(bot, fake_api, lambda s: s["reply_count"] >= 12, tmp_path / "bot.log")
    assert code == 0, (tmp_path / "bot.log").read_text()
    replies = fake_api.replies()
    assert sorted(text for _, _, text, _ in replies) == sorted(f"done: note {chat}" for chat in range(12))
