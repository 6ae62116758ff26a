"""/summary with the local provider and with an LLM vendor (a local fake server), /context."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from framework import connection_scope
from framework.models import AppSettings, UsageStats
from plugins.chatmemory.models import Summary

SUPER = -1001234567890


class FakeVendor:
    """An OpenAI-style vendor answering every request with ``answer`` (and counting requests)."""

    def __init__(self) -> None:
        self.answer = "Ann planned the trip [#1] and Bob agreed [#2]; the moon is cheese [#999]."
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant",
                                                                           "content": fake.answer}}],
                                      "usage": {"total_tokens": 321}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vendor() -> Iterator[FakeVendor]:
    server = FakeVendor()
    yield server
    server.close()


def chatter(bot: Any, chat_id: int = SUPER) -> tuple[Any, Any]:
    ann = bot.user(1001, first_name="Ann").in_chat(chat_id, title="Trip", kind="supergroup")
    bob = bot.user(2002, first_name="Bob").in_chat(chat_id, title="Trip", kind="supergroup")
    original = {"message_id": 1, "date": 1, "chat": ann.chat, "text": "x"}
    ann.send("Let's plan the mountain trip for August")
    bob.send("Mountain trip sounds great", reply_to_message=original)
    ann.send("Who books the mountain hut?", reply_to_message={**original, "message_id": 2})
    bob.send("I can book the hut", reply_to_message=original)
    ann.send("Great, the trip is on")
    bot.advance(minutes=1)
    return ann, bob


def test_local_summary_counts_people_topics_and_replies(bot) -> None:
    ann, _ = chatter(bot)
    text = ann.send("/summary")[0].text
    lines = text.splitlines()
    assert lines[0] == "📝 Summary of the last day"
    assert "Messages: 5, participants: 2." in lines
    assert "Most active: Ann (3), Bob (2)." in lines
    topics = next(line for line in lines if line.startswith("Most discussed:"))
    assert topics.startswith("Most discussed: mountain, trip") or topics.startswith("Most discussed: trip, mountain")
    assert "• Ann: “Let's plan the mountain trip for August” (↩ 2) https://t.me/c/1234567890/1" in lines


def test_a_fresh_summary_is_shown_again_not_rewritten(bot) -> None:
    ann, _ = chatter(bot)
    first = ann.send("/summary day")[0].text
    ann.send("one more message")
    assert ann.send("/summary")[0].text == first
    with connection_scope():
        assert Summary.select().count() == 1
    bot.advance(hours=2)
    assert "Messages: 6, participants: 2." in ann.send("/summary")[0].text.splitlines()


def test_seven_and_thirty_day_summaries_are_built_from_dailies(bot) -> None:
    ann, bob = chatter(bot)
    ann.send("/summary")
    bot.advance(days=1)
    bob.send("back from the mountain trip")
    bot.advance(minutes=1)
    lines = ann.send("/summary 7day")[0].text.splitlines()
    assert lines[0] == "📝 Summary of the last 7 days"
    assert "Messages: 6, participants: 2." in lines
    assert "Built from 2 daily summaries." in lines
    with connection_scope():
        kinds = sorted(s.summary_type for s in Summary.select())
    assert kinds == ["7day", "daily", "daily"]


def test_summary_in_private_and_with_nothing_said(bot) -> None:
    ann = bot.user(1001)
    assert ann.send("/summary")[0].text == "Summaries are for group chats: add me to a group."
    group = ann.in_chat(-5)
    assert group.send("/summary")[0].text == "Nothing to summarize: no messages in this period yet."


def _llm_bot(make_bot: Any, monkeypatch: pytest.MonkeyPatch, vendor: FakeVendor, **settings: Any) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-chatmemory")
    bot = make_bot(settings, config={"llm": {"timeout": 5, "retries": 0}})
    with connection_scope():
        AppSettings.update(active_llm_vendor="openai",
                           llm_config={"openai": {"base_url": vendor.url, "model": "gpt-test"}}).where(
            AppSettings.id == 1).execute()
    return bot


def test_llm_summary_drops_a_made_up_citation_and_counts_tokens(make_bot, monkeypatch, vendor) -> None:
    bot = _llm_bot(make_bot, monkeypatch, vendor)
    ann, _ = chatter(bot)
    lines = ann.send("/summary")[0].text.splitlines()
    assert "Ann planned the trip [#1] and Bob agreed [#2]; the moon is cheese." in lines
    assert lines[-1] == "(written by the language model)"
    prompt = vendor.requests[0]["messages"][1]["content"]
    assert prompt.splitlines()[0] == "[#1] Ann: Let's plan the mountain trip for August"
    with connection_scope():
        summary = Summary.get()
        assert (summary.provider, summary.token_count, summary.cited) == ("llm", 321, [1, 2])
        assert UsageStats.get(UsageStats.vendor == "openai").total_tokens == 321


def test_llm_prompt_fits_the_token_budget(make_bot, monkeypatch, vendor) -> None:
    bot = _llm_bot(make_bot, monkeypatch, vendor, max_prompt_tokens=90)
    chatter(bot)
    bot.user(1001).in_chat(SUPER, kind="supergroup").send("/summary")
    prompt = vendor.requests[0]["messages"][1]["content"]
    assert "[#1]" not in prompt and "[#5] Ann: Great, the trip is on" in prompt  # the newest lines kept


def test_past_the_daily_llm_budget_the_local_provider_answers(make_bot, monkeypatch, vendor) -> None:
    bot = _llm_bot(make_bot, monkeypatch, vendor, daily_llm_tokens_per_chat=300)
    ann, _ = chatter(bot)
    ann.send("/summary")
    bot.advance(hours=2)
    lines = ann.send("/summary")[0].text.splitlines()
    assert "Messages: 5, participants: 2." in lines
    assert len(vendor.requests) == 1


def test_context_shows_memories_pronouns_and_share(bot) -> None:
    ann, _ = chatter(bot)
    ann.send("/remember I like hiking")
    ann.send("/pronouns she/her")
    ann.send("/summary")
    lines = ann.send("/context")[0].text.splitlines()
    assert lines == [
        "What I keep about you in this chat:",
        "Facts you asked me to remember: 1 (see /memories).",
        "Pronouns: she/her.",
        "Your stored messages here: 7.",
        "Your share of the latest summary: 3 of 5 messages.",
    ]
