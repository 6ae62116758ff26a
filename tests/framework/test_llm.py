"""LLMService against a real local HTTP server imitating the OpenAI, ProxyAPI and YandexGPT APIs."""
from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from framework import db
from framework.llm import LLMService, LlmSettings, cache_key, load_app_settings, secrets_from_env
from framework.models import AppSettings, LlmCache, UsageStats, User

OPENAI_KEY = "sk-test-0penai-SECRET-4242"
PROXI_KEY = "sk-proxi-SECRET-7777"
YANDEX_KEY = "AQVN-yandex-SECRET-9999"
SECRETS = {"openai": OPENAI_KEY, "proxiapi": PROXI_KEY, "yandex": YANDEX_KEY}
MESSAGES = [{"role": "system", "content": "You are a tarot reader."}, {"role": "user", "content": "Card of the day?"}]


def openai_answer(text: str = "The Star: hope.", tokens: int = 42) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": tokens - 30, "total_tokens": tokens},
    }


def yandex_answer(text: str, total: str) -> dict[str, Any]:
    return {
        "result": {
            "alternatives": [{"message": {"role": "assistant", "text": text}, "status": "ALTERNATIVE_STATUS_FINAL"}],
            "usage": {"inputTextTokens": "20", "completionTokens": "7", "totalTokens": total},
            "modelVersion": "23.10.2024",
        }
    }


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeVendor:
    """A scripted HTTP server: each request takes the next scripted reply (or the default one)."""

    default: tuple[int, Any] = (200, None)
    script: deque = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def reply(self, status: int, body: Any = None, *, hang: bool = False) -> None:
        self.script.append((status, body, hang))

    @property
    def hits(self) -> int:
        return len(self.seen)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        self.seen.append(Seen(handler.path, {k.lower(): v for k, v in handler.headers.items()}, json.loads(raw)))
        status, body, hang = self.script.popleft() if self.script else (*self.default, False)
        if hang:
            self.release.wait(timeout=10)
        payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
        data = payload.encode() if isinstance(payload, str) else payload
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up (timeout test)
            pass


@pytest.fixture
def vendor() -> Iterator[FakeVendor]:
    fake = FakeVendor(default=(200, openai_answer()))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            fake.handle(self)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def configure(vendor_name: str, **config: Any) -> None:
    """Write the app_settings row the service reads on every call, as the admin panel would."""
    with db.connection_scope():
        AppSettings.insert(id=1, active_llm_vendor=vendor_name, llm_config={vendor_name: config}).on_conflict(
            conflict_target=[AppSettings.id],
            update={AppSettings.active_llm_vendor: vendor_name, AppSettings.llm_config: {vendor_name: config}},
        ).execute()


def service(**kwargs: Any) -> LLMService:
    options = {"secrets": SECRETS, "timeout": 5, "retries": 2, "backoff": 0}
    options.update(kwargs)
    return LLMService(load_app_settings, **options)


def local_text() -> str:
    return "Template: The Star."


def make_user(telegram_id: int = 100) -> int:
    with db.connection_scope():
        return User.create(telegram_id=telegram_id).id


def usage_rows() -> list[tuple[int | None, str, int, int]]:
    with db.connection_scope():
        return [
            (row.user_id, row.vendor, row.total_requests, row.total_tokens)
            for row in UsageStats.select().order_by(UsageStats.id)
        ]


# -- vendors --------------------------------------------------------------------


def test_local_is_the_default_and_never_calls_out(bound_db, vendor: FakeVendor) -> None:
    result = service().complete(MESSAGES, user_id=None, fallback=local_text)
    assert (result.text, result.vendor, result.tokens, result.cached, result.fell_back) == (
        "Template: The Star.", "local", 0, False, False
    )
    assert vendor.hits == 0


def test_openai_request_shape_and_answer(bound_db, vendor: FakeVendor) -> None:
    configure("openai", model="gpt-test", base_url=vendor.url + "/v1")
    user_id = make_user()
    result = service().complete(MESSAGES, user_id=user_id, fallback=local_text, temperature=0.2, max_tokens=300)
    assert (result.text, result.vendor, result.tokens, result.cached, result.fell_back) == (
        "The Star: hope.", "openai", 42, False, False
    )
    request = vendor.seen[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.body == {"model": "gpt-test", "messages": MESSAGES, "temperature": 0.2, "max_tokens": 300}
    assert usage_rows() == [(user_id, "openai", 1, 42)]


def test_proxiapi_is_openai_compatible_with_its_own_key(bound_db, vendor: FakeVendor) -> None:
    configure("proxiapi", model="gpt-4o-mini", base_url=vendor.url + "/openai/v1/")
    result = service().complete(MESSAGES, user_id=None, fallback=local_text)
    assert (result.text, result.vendor) == ("The Star: hope.", "proxiapi")
    request = vendor.seen[0]
    assert request.path == "/openai/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {PROXI_KEY}"
    assert request.body["model"] == "gpt-4o-mini"
    assert request.body["messages"] == MESSAGES


def test_yandex_request_shape_and_answer(bound_db, vendor: FakeVendor) -> None:
    configure("yandex", model="yandexgpt/latest", base_url=vendor.url, folder_id="b1gfolder")
    vendor.reply(200, yandex_answer("Звезда: надежда.", "27"))
    result = service().complete(MESSAGES, user_id=None, fallback=local_text, temperature=0.3, max_tokens=500)
    assert (result.text, result.vendor, result.tokens, result.fell_back) == ("Звезда: надежда.", "yandex", 27, False)
    request = vendor.seen[0]
    assert request.path == "/foundationModels/v1/completion"
    assert request.headers["authorization"] == f"Api-Key {YANDEX_KEY}"
    assert request.headers["x-folder-id"] == "b1gfolder"
    assert request.body["modelUri"] == "gpt://b1gfolder/yandexgpt/latest"
    assert request.body["completionOptions"]["temperature"] == 0.3
    assert int(request.body["completionOptions"]["maxTokens"]) == 500
    assert request.body["messages"] == [
        {"role": "system", "text": "You are a tarot reader."}, {"role": "user", "text": "Card of the day?"}
    ]


def test_from_env_reads_keys_and_yandex_folder(bound_db, vendor: FakeVendor) -> None:
    configure("yandex", base_url=vendor.url)
    vendor.reply(200, yandex_answer("ok", "3"))
    environ = {"YANDEX_API_KEY": YANDEX_KEY, "YANDEX_FOLDER_ID": "b1genv", "OPENAI_API_KEY": ""}
    assert secrets_from_env(environ) == {"yandex": YANDEX_KEY}
    result = LLMService.from_env(environ=environ, backoff=0).complete(MESSAGES, user_id=None, fallback=local_text)
    assert result.text == "ok"
    assert vendor.seen[0].headers["x-folder-id"] == "b1genv"
    assert vendor.seen[0].body["modelUri"] == "gpt://b1genv/yandexgpt-lite/latest"


# -- failures, the same for every remote vendor -----------------------------------------


@dataclass(frozen=True)
class Api:
    """One remote vendor as the fake server plays it: where it lives and what its answer looks like."""

    vendor: str
    key: str
    path: str
    folder_id: str | None = None

    def configure(self, fake: FakeVendor) -> None:
        extra = {"folder_id": self.folder_id} if self.folder_id else {}
        configure(self.vendor, base_url=fake.url + self.path, **extra)

    def answer(self, text: str = "The Star: hope.", tokens: int = 42) -> dict[str, Any]:
        return yandex_answer(text, str(tokens)) if self.vendor == "yandex" else openai_answer(text, tokens)


APIS = [
    pytest.param(Api("openai", OPENAI_KEY, "/v1"), id="openai"),
    pytest.param(Api("proxiapi", PROXI_KEY, "/openai/v1"), id="proxiapi"),
    pytest.param(Api("yandex", YANDEX_KEY, "", folder_id="b1gfolder"), id="yandex"),
]
TIMEOUT = 0.3


@pytest.fixture(params=APIS)
def api(request: pytest.FixtureRequest, bound_db, vendor: FakeVendor) -> Api:
    """The active vendor; unless a test scripts otherwise, the fake server answers as it would."""
    chosen: Api = request.param
    chosen.configure(vendor)
    vendor.default = (200, chosen.answer())
    return chosen


def fail_with_500(fake: FakeVendor, api: Api) -> None:
    """A server error whose text echoes the key, as vendors' error texts do."""
    fake.reply(500, {"error": {"message": f"internal error serving key {api.key}"}})


def fail_with_timeout(fake: FakeVendor, api: Api) -> None:
    """The server holds the request longer than the client's timeout (released at teardown)."""
    fake.reply(200, api.answer(), hang=True)


FAILURES = [pytest.param(fail_with_500, id="http500"), pytest.param(fail_with_timeout, id="timeout")]


def assert_no_key_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    assert all(secret not in caplog.text for secret in SECRETS.values())


@pytest.mark.parametrize("fail", FAILURES)
def test_transient_failures_are_retried_then_answered(api: Api, vendor: FakeVendor, fail, caplog) -> None:
    user_id = make_user()
    fail(vendor, api)
    fail(vendor, api)
    with caplog.at_level(logging.DEBUG):
        result = service(timeout=TIMEOUT, retries=2).complete(MESSAGES, user_id=user_id, fallback=local_text)
    assert (result.text, result.vendor, result.tokens, result.fell_back) == ("The Star: hope.", api.vendor, 42, False)
    assert vendor.hits == 3
    assert usage_rows() == [(user_id, api.vendor, 1, 42)]      # one answer counts once, not per attempt
    assert f"LLM vendor {api.vendor} attempt 2/3 failed, retrying" in caplog.text
    assert_no_key_logged(caplog)


@pytest.mark.parametrize("fail", FAILURES)
@pytest.mark.parametrize("retries", [0, 2])
def test_persistent_failures_use_the_configured_retries_then_fall_back(
        api: Api, vendor: FakeVendor, fail, retries: int, caplog) -> None:
    user_id = make_user()
    for _ in range(retries + 1):
        fail(vendor, api)                                       # the attempt after these would succeed
    with caplog.at_level(logging.DEBUG):
        result = service(timeout=TIMEOUT, retries=retries).complete(MESSAGES, user_id=user_id, fallback=local_text)
    assert (result.text, result.vendor, result.tokens, result.fell_back) == ("Template: The Star.", "local", 0, True)
    assert vendor.hits == retries + 1
    assert usage_rows() == []                                   # nothing was spent
    assert f"LLM vendor {api.vendor} failed, answering with the local fallback" in caplog.text
    if fail is fail_with_500:
        assert "internal error serving key ***" in caplog.text
    else:
        assert f"no answer within {TIMEOUT} s" in caplog.text
    assert_no_key_logged(caplog)


@pytest.mark.parametrize("body", [
    pytest.param('{"choices": [{"message": ', id="truncated-json"),
    pytest.param("<html>502 Bad Gateway</html>", id="html"),
    pytest.param({"choices": [], "result": {}}, id="wrong-shape"),
])
def test_malformed_answer_falls_back_without_retry(api: Api, vendor: FakeVendor, body: Any, caplog) -> None:
    vendor.reply(200, body)
    with caplog.at_level(logging.DEBUG):
        result = service(retries=2).complete(MESSAGES, user_id=None, fallback=local_text)
    assert (result.vendor, result.fell_back, result.text) == ("local", True, "Template: The Star.")
    assert vendor.hits == 1                  # not retried: the same request would get the same answer
    assert usage_rows() == []
    assert "unexpected response" in caplog.text
    assert_no_key_logged(caplog)


def test_client_error_is_not_retried_and_key_never_logged(api: Api, vendor: FakeVendor, caplog) -> None:
    vendor.reply(401, {"error": {"message": f"Incorrect API key provided: {api.key}", "code": "invalid_api_key"}})
    with caplog.at_level(logging.DEBUG):
        result = service(retries=2).complete(MESSAGES, user_id=None, fallback=local_text)
    assert (result.vendor, result.fell_back, result.text) == ("local", True, "Template: The Star.")
    assert vendor.hits == 1
    assert "HTTP 401" in caplog.text
    assert "Incorrect API key provided: ***" in caplog.text
    assert usage_rows() == []
    assert_no_key_logged(caplog)


def test_unreachable_vendor_falls_back(bound_db) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    configure("openai", base_url=f"http://127.0.0.1:{port}/v1")
    result = service(retries=1).complete(MESSAGES, user_id=None, fallback=local_text)
    assert (result.vendor, result.fell_back) == ("local", True)


def test_missing_key_or_folder_falls_back(bound_db, vendor: FakeVendor) -> None:
    configure("openai", base_url=vendor.url)
    assert service(secrets={}).complete(MESSAGES, user_id=None, fallback=local_text).fell_back
    configure("yandex", base_url=vendor.url)  # no folder_id anywhere
    assert service().complete(MESSAGES, user_id=None, fallback=local_text).fell_back
    configure("gigachat")
    assert service().complete(MESSAGES, user_id=None, fallback=local_text).fell_back
    assert vendor.hits == 0


def test_api_key_in_database_config_is_ignored(bound_db, vendor: FakeVendor, caplog: pytest.LogCaptureFixture) -> None:
    configure("openai", base_url=vendor.url, api_key="sk-from-the-database")
    result = service(secrets={}).complete(MESSAGES, user_id=None, fallback=local_text)
    assert result.fell_back
    assert vendor.hits == 0
    assert "ignoring api_key" in caplog.text
    assert "sk-from-the-database" not in caplog.text


def test_settings_loader_failure_means_local(vendor: FakeVendor) -> None:
    def broken() -> LlmSettings:
        raise RuntimeError("database is down")

    result = LLMService(broken, secrets=SECRETS).complete(MESSAGES, user_id=None, fallback=local_text)
    assert (result.vendor, result.fell_back) == ("local", False)


# -- cache ------------------------------------------------------------------------------


def test_identical_call_is_served_from_cache(bound_db, vendor: FakeVendor) -> None:
    configure("openai", base_url=vendor.url, model="gpt-test")
    user_id = make_user()
    llm = service()
    first = llm.complete(MESSAGES, user_id=user_id, fallback=local_text)
    second = llm.complete(MESSAGES, user_id=user_id, fallback=local_text)
    assert vendor.hits == 1
    assert (first.cached, second.cached) == (False, True)
    assert (second.text, second.vendor, second.tokens, second.fell_back) == ("The Star: hope.", "openai", 0, False)
    assert usage_rows() == [(user_id, "openai", 1, 42)]  # a cache hit costs nothing

    llm.complete(MESSAGES, user_id=user_id, fallback=local_text, temperature=0.1)
    llm.complete(MESSAGES, user_id=user_id, fallback=local_text, cache=False)
    assert vendor.hits == 3

    with db.connection_scope():
        row = LlmCache.get()
        assert row.vendor == "openai"
        assert row.cache_key == cache_key("openai", "gpt-test", MESSAGES, 0.7, 800)
        assert row.response_payload == {"text": "The Star: hope.", "tokens": 42}
        assert "messages" not in row.request_payload  # the prompt may hold personal data
        assert row.expires_at > db.utcnow()


def test_expired_cache_entry_is_not_used(bound_db, vendor: FakeVendor) -> None:
    configure("openai", base_url=vendor.url)
    llm = service()
    llm.complete(MESSAGES, user_id=None, fallback=local_text)
    with db.connection_scope():
        LlmCache.update(expires_at=db.utcnow() - dt.timedelta(seconds=1)).execute()
    vendor.default = (200, openai_answer("The Sun: joy."))
    result = llm.complete(MESSAGES, user_id=None, fallback=local_text)
    assert (result.text, result.cached) == ("The Sun: joy.", False)
    assert vendor.hits == 2
    with db.connection_scope():
        assert LlmCache.select().count() == 1  # refreshed in place
        assert LlmCache.get().expires_at > db.utcnow()


def test_prune_cache_deletes_only_expired_rows(bound_db) -> None:
    now = db.utcnow()
    with db.connection_scope():
        LlmCache.create(vendor="openai", cache_key="old", expires_at=now - dt.timedelta(hours=1))
        LlmCache.create(vendor="openai", cache_key="fresh", expires_at=now + dt.timedelta(hours=1))
        LlmCache.create(vendor="yandex", cache_key="forever", expires_at=None)
    assert service().prune_cache() == 1
    with db.connection_scope():
        assert sorted(row.cache_key for row in LlmCache.select()) == ["forever", "fresh"]
    assert service().prune_cache() == 0


def cache_keys() -> list[str]:
    with db.connection_scope():
        return sorted(row.cache_key for row in LlmCache.select())


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_the_prune_job_deletes_expired_rows_through_the_scheduler(bot_factory, database: str) -> None:
    bot = bot_factory(database=database)
    [job] = [info for info in bot.app.scheduler.jobs() if info.id == "maintenance.prune_llm_cache"]
    assert job.trigger == "interval[1:00:00]"
    t0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    with db.connection_scope():
        for key, expires in (("expired", t0 - dt.timedelta(hours=1)), ("fresh", t0 + dt.timedelta(hours=1)),
                             ("forever", None)):
            LlmCache.create(vendor="openai", cache_key=key, created_at=t0 - dt.timedelta(hours=2), expires_at=expires)

    bot.set_time(t0)
    bot.run_job("maintenance.prune_llm_cache")              # the scheduler's wrapper, on the app's clock
    assert cache_keys() == ["forever", "fresh"]
    bot.advance(hours=2)
    bot.run_job("maintenance.prune_llm_cache")
    assert cache_keys() == ["forever"]
    stats = bot.app.scheduler.job_stats()["maintenance.prune_llm_cache"]
    assert (stats.runs, stats.failures, stats.last_outcome) == (2, 0, "ok")


# -- usage ------------------------------------------------------------------------------


def test_usage_is_accumulated_per_user_and_vendor(bound_db, vendor: FakeVendor) -> None:
    configure("openai", base_url=vendor.url)
    alice, bob = make_user(1), make_user(2)
    llm = service()
    for user_id in (alice, alice, bob, None, None):
        llm.complete(MESSAGES, user_id=user_id, fallback=local_text, cache=False)
    vendor.reply(200, yandex_answer("да", "5"))
    configure("yandex", base_url=vendor.url, folder_id="f")
    llm.complete(MESSAGES, user_id=alice, fallback=local_text, cache=False)
    rows = sorted(usage_rows(), key=lambda r: (r[0] or 0, r[1]))
    assert rows == [(None, "openai", 2, 84), (alice, "openai", 2, 84), (alice, "yandex", 1, 5), (bob, "openai", 1, 42)]
    with db.connection_scope():
        assert all(row.last_request_at is not None for row in UsageStats.select())


def test_concurrent_calls_never_lose_counts(bound_db, vendor: FakeVendor) -> None:
    configure("openai", base_url=vendor.url)
    user_id = make_user()
    llm = service()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                llm.complete(MESSAGES, user_id=user_id, fallback=local_text, cache=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert usage_rows() == [(user_id, "openai", 30, 30 * 42)]


def test_bookkeeping_failure_keeps_answer_and_callers_transaction(
    bound_db, vendor: FakeVendor, caplog: pytest.LogCaptureFixture
) -> None:
    configure("openai", base_url=vendor.url)
    llm = service()
    with db.connection_scope(), db.database.atomic():
        User.create(telegram_id=555)
        result = llm.complete(MESSAGES, user_id=987654, fallback=local_text)  # no such user: FK violation
        assert (result.text, result.fell_back) == ("The Star: hope.", False)
        assert User.select().where(User.telegram_id == 555).count() == 1  # still usable after the failure
    with db.connection_scope():
        assert User.select().where(User.telegram_id == 555).exists()
        assert UsageStats.select().count() == 0
    assert "usage could not be saved" in caplog.text


def test_usage_sums_requests_tokens_and_users_per_vendor(bound_db, vendor: FakeVendor) -> None:
    configure("openai", base_url=vendor.url, model="gpt-test")
    llm = service()
    with db.connection_scope():
        assert llm.usage() == {}
    first, second = make_user(100), make_user(101)
    llm.complete(MESSAGES, user_id=first, fallback=local_text, cache=False)
    llm.complete(MESSAGES, user_id=first, fallback=local_text, cache=False)
    llm.complete(MESSAGES, user_id=second, fallback=local_text, cache=False)
    llm.complete(MESSAGES, user_id=None, fallback=local_text, cache=False)    # the system's own request
    with db.connection_scope():
        assert llm.usage() == {"openai": {"requests": 4, "tokens": 168, "users": 2}}
