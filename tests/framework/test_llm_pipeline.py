"""The LLM service from a plugin handler, through the real pipeline.

A local HTTP server imitates the OpenAI API; when it is slower than the
configured timeout the user still gets the handler's local fallback text.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from plugins_for_tests import PROBE, build, texts
from plugins_for_tests.probe import FALLBACK_TEXT

from framework import User, connection_scope
from framework.models import AppSettings, UsageStats

API_KEY = "sk-test-pipeline-SECRET-1234"
ALICE = 1301


class FakeOpenAI:
    """Answers ``POST /v1/chat/completions``; ``delay`` seconds late when set (cut short at teardown)."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if fake.delay:
                    fake.release.wait(fake.delay)
                answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "remote answer"}}],
                          "usage": {"total_tokens": 17}}
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass                                  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vendor() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


def _bot(bot_factory, backend: str, monkeypatch, vendor: FakeOpenAI):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)           # read when the application is built
    bot = build(bot_factory, backend, monkeypatch, PROBE, config={"llm": {"timeout": 1, "retries": 0}})
    with connection_scope():
        updated = (AppSettings.update(active_llm_vendor="openai",
                                      llm_config={"openai": {"base_url": vendor.url, "model": "gpt-test"}})
                   .where(AppSettings.id == 1).execute())
    assert updated == 1
    return bot


def test_slow_vendor_falls_back_to_the_local_text(bot_factory, monkeypatch, backend, vendor) -> None:
    bot = _bot(bot_factory, backend, monkeypatch, vendor)
    vendor.delay = 5.0
    replies = texts(bot.user(ALICE).send("/ask card of the day"))
    assert replies == [f"{FALLBACK_TEXT} [vendor=local fell_back=True]"]
    [request] = vendor.requests                               # the remote vendor was really tried
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == f"Bearer {API_KEY}"
    assert request["body"]["model"] == "gpt-test"
    assert request["body"]["messages"] == [{"role": "user", "content": "card of the day"}]
    with connection_scope():
        assert UsageStats.select().count() == 0              # nothing was spent


def test_fast_vendor_answers_and_usage_is_counted(bot_factory, monkeypatch, backend, vendor) -> None:
    bot = _bot(bot_factory, backend, monkeypatch, vendor)
    assert texts(bot.user(ALICE).send("/ask hi")) == ["remote answer [vendor=openai fell_back=False]"]
    with connection_scope():
        user = User.get(User.telegram_id == ALICE)
        usage = UsageStats.get((UsageStats.user == user.id) & (UsageStats.vendor == "openai"))
    assert (usage.total_requests, usage.total_tokens) == (1, 17)


def test_missing_api_key_falls_back_without_calling_out(bot_factory, monkeypatch, backend, vendor) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    with connection_scope():
        AppSettings.update(active_llm_vendor="openai",
                           llm_config={"openai": {"base_url": vendor.url}}).where(AppSettings.id == 1).execute()
    assert texts(bot.user(ALICE).send("/ask hi")) == [f"{FALLBACK_TEXT} [vendor=local fell_back=True]"]
    assert vendor.requests == []
