"""framework/metrics.py and the built-in ``metrics`` plugin: ``GET /metrics`` after updates, jobs,
Bot API calls and cache lookups went through the real application; no user data in it."""
from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from plugins_for_tests import PROBE, build
from prometheus_client.parser import text_string_to_metric_families
from telebot import apihelper

from framework.db import connection_scope
from framework.models import IncomingUpdate
from framework.sender import SendError
from framework.testing import CLOSED_PORT_REDIS_URL
from framework.transports.webhook import make_wsgi_app

SECRET = "metrics-test-webhook-secret"
TOKEN = "123456:AAHmetrics-test-token-value"
USER = 7_310_042_111  # digits no metric value would show by chance
NOTE = "my-private-note-text"

# Every label a plugbot series may carry: bounded sets the code defines, never a chat, user or text.
LABELS = {"type", "plugin", "method", "cache", "result", "job", "outcome", "le"}


def get(app: Any, path: str) -> tuple[str, dict[str, str], bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(make_wsgi_app(app, SECRET)(environ, start_response))
    return answer["status"], answer["headers"], body


def scrape(app: Any) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """/metrics as served: its text, and every sample by (name, labels)."""
    status, headers, body = get(app, "/metrics")
    assert status == "200 OK"
    assert headers["Content-Type"].startswith("text/plain; version=")
    text = body.decode()
    samples = {(sample.name, frozenset(sample.labels.items())): sample.value
               for family in text_string_to_metric_families(text) for sample in family.samples}
    return text, samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class FloodOnce:
    """The fake Bot API, answering the first ``send_message`` with Telegram's 429."""

    def __init__(self, api: Any) -> None:
        self.api, self.flooded = api, False

    def call(self, method: str, **params: Any) -> Any:
        if method == "send_message" and not self.flooded:
            self.flooded = True
            raise apihelper.ApiTelegramException("sendMessage", None, {
                "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 5",
                "parameters": {"retry_after": 5}})
        return self.api.call(method, **params)


def test_metrics_count_what_went_through_the_pipeline(bot_factory, monkeypatch) -> None:
    bot = build(bot_factory, "memory", monkeypatch, PROBE,
                config={"telegram": {"token": TOKEN}, "ratelimit": {"messages_per_minute": 3}})
    _, before = scrape(bot.app)
    user = bot.user(USER, first_name="Alice", username="alice_private")
    assert user.send(f"/write {NOTE}")[0].text == "written"
    user.send("/boom")                      # the probe's handler raises
    user.send(f"/write {NOTE}")
    user.send("/write again")               # the fourth and fifth in a minute: the rate limit refuses them
    user.send("/write once more")
    bot.run_job("probe.tick")
    bot.run_job("probe.explode")            # raises
    counting = bot.app.sender.api
    counting.wrapped = FloodOnce(counting.wrapped)
    with pytest.raises(SendError):
        bot.app.sender.call_once("send_message", chat_id=USER, text="broadcast")
    text, after = scrape(bot.app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("plugbot_updates_total", type="message", plugin="probe") == 3
    assert delta("plugbot_updates_total", type="message", plugin="core") == 2  # refused: no handler ran
    assert delta("plugbot_update_duration_seconds_count", plugin="probe") == 3
    assert delta("plugbot_update_duration_seconds_bucket", plugin="probe", le="+Inf") == 3
    assert delta("plugbot_update_errors_total", plugin="probe") == 1
    assert delta("plugbot_updates_rate_limited_total") == 2
    assert delta("plugbot_telegram_requests_total", method="send_message") >= 5  # replies, apologies, notices
    assert delta("plugbot_telegram_flood_waits_total", method="send_message") == 1
    assert delta("plugbot_job_runs_total", job="probe.tick", outcome="ok") == 1
    assert delta("plugbot_job_runs_total", job="probe.explode", outcome="error") == 1
    assert delta("plugbot_job_duration_seconds_count", job="probe.tick") == 1
    assert delta("plugbot_cache_requests_total", cache="users", result="hit") >= 1  # the profile, cached
    assert delta("plugbot_cache_requests_total", cache="users", result="miss") >= 1
    assert value(after, "plugbot_queue_depth") == 0
    assert value(after, "plugbot_queue_oldest_age_seconds") == 0

    # No user data and no secret: labels are bounded sets, and nothing the users sent is there.
    for name, labels in after:
        if name.startswith("plugbot_"):
            assert {key for key, _ in labels} <= LABELS, name
    for private in (str(USER), NOTE, "again", "Alice", "alice_private", "broadcast", TOKEN, TOKEN.split(":")[1],
                    SECRET):
        assert private not in text


def test_a_method_name_outside_the_bot_apis_shape_is_one_label() -> None:
    from framework.metrics import method_label

    assert method_label("send_message") == "send_message"
    assert method_label("send_message/../123:abc") == "other"
    assert method_label("x" * 80) == "other"


def test_healthz_answers_json_200_when_healthy_and_503_when_redis_is_unreachable(bot_factory, redis_url) -> None:
    up = bot_factory({}, config={"redis": {"url": redis_url}})
    status, headers, body = get(up.app, "/healthz")
    assert (status, headers["Content-Type"]) == ("503 Service Unavailable", "application/json")  # no bot running
    report = json.loads(body)
    assert report["checks"]["database"] == {"ok": True} and report["checks"]["redis"] == {"ok": True}
    from framework.heartbeat import Heartbeat

    Heartbeat(up.app, "webhook").beat()  # a running bot, as a gunicorn worker keeps it
    status, _, body = get(up.app, "/healthz")
    assert status == "200 OK"
    assert json.loads(body)["healthy"] is True

    down = bot_factory({}, config={"redis": {"url": CLOSED_PORT_REDIS_URL}})
    Heartbeat(down.app, "webhook").beat()
    status, _, body = get(down.app, "/healthz")
    report = json.loads(body)
    assert status == "503 Service Unavailable"
    assert report["healthy"] is False
    assert report["checks"]["database"] == {"ok": True}
    assert report["checks"]["redis"] == {"ok": False, "detail": "connection refused"}
    assert list(report["checks"]) == ["database", "redis", "bot"]


def test_a_polling_bot_serves_metrics_on_a_port_of_its_own(bot_factory, monkeypatch) -> None:
    import socket
    import urllib.request

    from framework.metrics import serve_metrics

    bot = build(bot_factory, "memory", monkeypatch, PROBE)
    bot.user(USER).send("/write polled")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve_metrics(bot.app, port, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"plugbot_updates", "plugbot_update_duration_seconds", "plugbot_queue_depth",
            "plugbot_telegram_requests"} <= names
    assert "polled" not in text and str(USER) not in text


def test_the_queue_gauges_count_what_waits_in_the_queue_and_how_long_the_oldest_has(bot_factory,
                                                                                     monkeypatch) -> None:
    bot = build(bot_factory, "memory", monkeypatch, PROBE)
    bot.app.queue.stop()
    bot.app.queue.workers = 0  # a receiver only: what it stores stays stored
    _, samples = scrape(bot.app)
    assert value(samples, "plugbot_queue_depth") == 0 and value(samples, "plugbot_queue_oldest_age_seconds") == 0
    user = bot.user(USER)
    bot.app.feed_many([user.message_update("/write one"), user.message_update("/write two")])
    with connection_scope():  # the first arrived a minute and a half ago
        row = IncomingUpdate.select().order_by(IncomingUpdate.update_id).first()
        (IncomingUpdate.update(received_at=row.received_at - dt.timedelta(seconds=90))
         .where(IncomingUpdate.update_id == row.update_id).execute())
    _, samples = scrape(bot.app)
    assert value(samples, "plugbot_queue_depth") == 2
    assert 90 <= value(samples, "plugbot_queue_oldest_age_seconds") < 90 + 60
