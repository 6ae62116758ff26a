from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from telebot import apihelper

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
        self.config = {"telegram": {}}
        self.sender = None

    def feed(self, update: dict[str, Any]) -> None:
        self.events.append(("feed", update["update_id"]))

    def join(self, timeout: float | None = None) -> bool:
        self.events.append(("join",))
        return True

    def process_update(self, update: dict[str, Any]) -> None:
        raise AssertionError("polling feeds the dispatcher, it never processes inline")


def updates(*ids: int) -> list[dict[str, Any]]:
    return [{"update_id": n, "message": {"message_id": n, "text": str(n)}} for n in ids]


def test_batch_is_processed_before_the_next_offset_acknowledges_it() -> None:
    app = FakeApp([updates(10, 11), [], updates(12)])
    run_polling(app, timeout=5, limit=50, allowed_updates=["message"])
    assert app.events == [
        ("get", None), ("feed", 10), ("feed", 11), ("join",),
        ("get", 12),
        ("get", 12), ("feed", 12), ("join",),
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
    assert ("feed", 1) in app.events


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
