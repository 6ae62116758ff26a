from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from framework.health import Check, HealthReport
from framework.transports.webhook import make_webhook_server, make_wsgi_app, serve_webhook, set_webhook

SECRET = "s3cret-webhook-token"


class FakeApp:
    def __init__(self, fail: bool = False) -> None:
        self.fed: list[dict[str, Any]] = []
        self.fail = fail
        self.stopping = threading.Event()
        self.config = {"telegram": {"webhook": {"url": "https://bot.example/webhook", "secret_token": SECRET,
                                                "listen": "127.0.0.1", "port": 0, "path": "/webhook"}}}
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.sender = self
        self.api = self

    def feed(self, update: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("dispatcher stopped")
        self.fed.append(update)

    def call(self, method: str, **params: Any) -> Any:
        self.sent.append((method, params))
        return True


def request(wsgi: Any, method: str = "POST", path: str = "/webhook", body: bytes = b"",
            secret: str | None = SECRET) -> tuple[str, dict[str, str], bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path,
                               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    if secret is not None:
        environ["HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"] = secret
    setup_testing_defaults(environ)
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    content = b"".join(wsgi(environ, start_response))
    return answer["status"], answer["headers"], content


UPDATE = {"update_id": 77, "message": {"message_id": 1, "date": 0, "text": "hi", "chat": {"id": 5, "type": "private"}}}


def test_valid_update_is_fed_and_acknowledged() -> None:
    app = FakeApp()
    status, _, _ = request(make_wsgi_app(app, SECRET, "/webhook"), body=json.dumps(UPDATE).encode())
    assert status == "200 OK"
    assert app.fed == [UPDATE]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_wrong_or_missing_secret_is_forbidden(secret: str | None) -> None:
    app = FakeApp()
    status, _, _ = request(make_wsgi_app(app, SECRET, "/webhook"), body=json.dumps(UPDATE).encode(),
                           secret=secret)
    assert status == "403 Forbidden"
    assert app.fed == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"message": {}}', b""])
def test_bad_bodies_are_rejected(body: bytes) -> None:
    app = FakeApp()
    status, _, _ = request(make_wsgi_app(app, SECRET, "/webhook"), body=body)
    assert status == "400 Bad Request"
    assert app.fed == []


def healthy() -> HealthReport:
    return HealthReport((Check("database", True), Check("bot", True, "polling")))


def test_health_unknown_paths_and_methods() -> None:
    wsgi = make_wsgi_app(FakeApp(), SECRET, "/hook", health=healthy)
    status, headers, body = request(wsgi, "GET", "/healthz")
    assert (status, headers["Content-Type"]) == ("200 OK", "application/json")
    assert json.loads(body) == {"healthy": True, "checks": {"database": {"ok": True},
                                                            "bot": {"ok": True, "detail": "polling"}}}
    assert request(wsgi, "POST", "/healthz")[0] == "405 Method Not Allowed"
    assert request(wsgi, "POST", "/metrics")[0] == "405 Method Not Allowed"
    assert request(wsgi, "POST", "/elsewhere", b"{}")[0] == "404 Not Found"
    status, headers, _ = request(wsgi, "GET", "/hook")
    assert status == "405 Method Not Allowed" and headers["Allow"] == "POST"


def test_queueing_failure_answers_500_so_telegram_retries() -> None:
    status, _, _ = request(make_wsgi_app(FakeApp(fail=True), SECRET, "/webhook"), body=json.dumps(UPDATE).encode())
    assert status == "500 Internal Server Error"


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError, match="secret_token"):
        make_wsgi_app(FakeApp(), "", "/webhook")


def test_threaded_server_over_http() -> None:
    app = FakeApp()
    server = make_webhook_server(app, "127.0.0.1", 0, secret_token=SECRET, path="/webhook", health=healthy)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        post = urllib.request.Request(base + "/webhook", data=json.dumps(UPDATE).encode(), method="POST",
                                      headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                               "Content-Type": "application/json"})
        with urllib.request.urlopen(post, timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            assert json.loads(response.read())["healthy"] is True
        forged = urllib.request.Request(base + "/webhook", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(forged, timeout=10)
        assert caught.value.code == 403
    finally:
        server.shutdown()
        server.server_close()
    assert app.fed == [UPDATE]


def test_serve_webhook_returns_when_the_app_stops() -> None:
    app = FakeApp()
    thread = threading.Thread(target=serve_webhook, args=(app,), daemon=True)
    thread.start()
    app.stopping.set()
    thread.join(10)
    assert not thread.is_alive()


def test_set_webhook_registers_url_and_secret_from_config() -> None:
    app = FakeApp()
    assert set_webhook(app, allowed_updates=["message", "callback_query"]) is True
    assert app.sent == [("set_webhook", {"url": "https://bot.example/webhook", "secret_token": SECRET,
                                         "allowed_updates": ["message", "callback_query"],
                                         "max_connections": 40, "drop_pending_updates": False})]


def _message(sender_id: Any = 5, chat_id: Any = 5) -> dict[str, Any]:
    return {"update_id": 78, "message": {"message_id": 1, "date": 0, "text": "hi", "from": {
        "id": sender_id, "is_bot": False, "first_name": "F"}, "chat": {"id": chat_id, "type": "private"}}}


@pytest.mark.parametrize("body", [
    b"[" * 200_000 + b"]" * 200_000,                      # a nesting bomb: deeper than the parser goes
    b'{"update_id": 1, "x": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
    b'{"update_id": true}',                               # a bool is no update id
    b'{"update_id": 1.5}',
    json.dumps({"update_id": 2**70}).encode(),
    json.dumps(_message(sender_id="x")).encode(),         # forged ids: refused, never apologised for
    json.dumps(_message(sender_id=2**70)).encode(),
    json.dumps(_message(sender_id=True)).encode(),
    json.dumps(_message(chat_id="x")).encode(),
    json.dumps(_message(chat_id=-2**70)).encode(),
])
def test_forged_and_malformed_updates_are_a_bad_request(body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    app = FakeApp()
    status, _, _ = request(make_wsgi_app(app, SECRET, "/webhook"), body=body)
    assert status == "400 Bad Request"
    assert app.fed == []
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_real_ids_of_every_size_telegram_uses_are_accepted() -> None:
    app = FakeApp()
    update = _message(sender_id=2**52, chat_id=-1001234567890123)
    status, _, _ = request(make_wsgi_app(app, SECRET, "/webhook"), body=json.dumps(update).encode())
    assert status == "200 OK"
    assert app.fed == [update]


def test_idle_and_half_sent_connections_are_closed_after_the_read_timeout() -> None:
    import socket
    import time

    server = make_webhook_server(FakeApp(), "127.0.0.1", 0, secret_token=SECRET, health=healthy, read_timeout=0.3)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        idle = socket.create_connection(("127.0.0.1", server.server_port), timeout=10)
        half = socket.create_connection(("127.0.0.1", server.server_port), timeout=10)
        half.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                     b"X-Telegram-Bot-Api-Secret-Token: " + SECRET.encode() + b"\r\n\r\n{\"update_id\"")
        started = time.monotonic()
        assert idle.recv(1024) == b""  # closed by the server, not by us
        answer = half.recv(1024)
        assert answer.startswith(b"HTTP/1.0 408") or answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 5
        idle.close()
        half.close()
    finally:
        server.shutdown()
        server.server_close()
