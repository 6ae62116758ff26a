from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from telebot import apihelper, types

from framework.sender import MESSAGE_LIMIT, Sender, SendError, TelebotApi, split_text


class FakeTime:
    """A clock that only moves when someone sleeps: pacing becomes exact arithmetic."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingApi:
    """Records (time, method, params) of each call; raises queued errors first."""

    def __init__(self, time: FakeTime | None = None) -> None:
        self.time = time
        self.calls: list[tuple[float, str, dict[str, Any]]] = []
        self.errors: list[Exception] = []

    def call(self, method: str, **params: Any) -> Any:
        self.calls.append((self.time.now if self.time else 0.0, method, params))
        if self.errors:
            raise self.errors.pop(0)
        return {"method": method, "n": len(self.calls)}


def telegram_error(code: int, description: str, **parameters: Any) -> apihelper.ApiTelegramException:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return apihelper.ApiTelegramException("sendMessage", None, body)


def make_sender(**kwargs: Any) -> tuple[Sender, RecordingApi, FakeTime]:
    fake_time = FakeTime()
    api = RecordingApi(fake_time)
    return Sender(api, sleep=fake_time.sleep, clock=fake_time.clock, **kwargs), api, fake_time


def call_times(api: RecordingApi) -> list[float]:
    return [moment for moment, _, _ in api.calls]


# -- pacing -------------------------------------------------------------------------


def test_private_chat_gets_one_message_per_second() -> None:
    sender, api, _ = make_sender()
    for n in range(3):
        sender.call("send_message", chat_id=42, text=f"m{n}")
    assert call_times(api) == [0.0, 1.0, 2.0]


def test_group_gets_twenty_messages_per_minute() -> None:
    sender, api, _ = make_sender()
    for n in range(22):
        sender.call("send_message", chat_id=-100123, text=f"m{n}")
    times = call_times(api)
    assert times[:20] == [0.0] * 20
    assert times[20] == 60.0 and times[21] == 60.0  # the window slides: the next two free slots


def test_global_bucket_paces_all_chats_together() -> None:
    sender, api, _ = make_sender(global_per_second=30)
    for chat in range(1, 41):  # 40 different private chats: only the global limit applies
        sender.call("send_message", chat_id=chat, text="hi")
    times = call_times(api)
    assert times[:30] == [0.0] * 30
    assert times[30] == pytest.approx(1 / 30)
    assert times[39] == pytest.approx(10 / 30)
    assert sender.stats["throttled"] == 10


def test_other_chats_are_not_delayed_by_one_busy_chat() -> None:
    booked: list[float] = []
    sender = Sender(RecordingApi(), sleep=booked.append, clock=lambda: 0.0)
    sender.call("send_message", chat_id=1, text="a")
    sender.call("send_message", chat_id=1, text="b")  # must wait for chat 1's next slot
    sender.call("send_message", chat_id=2, text="c")  # chat 2 is free right now
    assert booked == [1.0]


def test_a_thread_sleeping_for_its_chat_does_not_block_other_chats() -> None:
    entered = threading.Event()
    release = threading.Event()

    def sleep(seconds: float) -> None:
        entered.set()
        release.wait(10)

    api = RecordingApi()
    sender = Sender(api, sleep=sleep, clock=lambda: 0.0)
    sender.call("send_message", chat_id=1, text="first")
    waiting = threading.Thread(target=sender.call, args=("send_message",), kwargs={"chat_id": 1, "text": "2nd"})
    waiting.start()
    assert entered.wait(10)  # that thread now sleeps for chat 1's slot
    sender.call("send_message", chat_id=2, text="other chat")  # returns although it is still asleep
    assert [params["text"] for _, _, params in api.calls] == ["first", "other chat"]
    release.set()
    waiting.join(10)
    assert [params["text"] for _, _, params in api.calls][-1] == "2nd"


def test_non_message_calls_are_not_paced() -> None:
    sender, api, fake_time = make_sender()
    for _ in range(50):
        sender.call("answer_callback_query", callback_query_id="q")
        sender.call("send_chat_action", chat_id=42, action="typing")
    sender.call("get_me")
    assert fake_time.sleeps == []
    assert sender.stats["calls"] == 101


def test_limits_can_be_switched_off() -> None:
    sender, api, fake_time = make_sender(global_per_second=None, private_interval=None, group_per_minute=None)
    for _ in range(100):
        sender.call("send_message", chat_id=42, text="fast")
    assert fake_time.sleeps == []


# -- retries -----------------------------------------------------------------------------


def test_429_sleeps_retry_after_and_pauses_the_chat() -> None:
    sender, api, fake_time = make_sender(private_interval=None)
    api.errors.append(telegram_error(429, "Too Many Requests: retry after 7", retry_after=7))
    result = sender.call("send_message", chat_id=42, text="hi")
    assert result["method"] == "send_message"
    assert fake_time.sleeps == [7.0]
    assert call_times(api) == [0.0, 7.0]
    assert sender.stats["flood_waits"] == 1 and sender.stats["retries"] == 1 and sender.stats["calls"] == 1


def test_429_pause_applies_to_other_threads_of_the_same_chat() -> None:
    booked: list[float] = []
    api = RecordingApi()
    sender = Sender(api, sleep=booked.append, clock=lambda: 0.0, private_interval=None)
    api.errors.append(telegram_error(429, "Too Many Requests", retry_after=12))
    sender.call("send_message", chat_id=42, text="hi")  # sleeps 12, the clock stays at 0
    sender.call("send_message", chat_id=42, text="next")  # so the chat is still paused
    sender.call("send_message", chat_id=43, text="other")  # another chat is not
    assert booked == [12.0, 12.0]


def test_call_once_hands_a_429_back_with_retry_after_instead_of_waiting() -> None:
    sender, api, fake_time = make_sender(private_interval=None)
    api.errors.append(telegram_error(429, "Too Many Requests: retry after 7", retry_after=7))
    with pytest.raises(SendError) as caught:
        sender.call_once("send_message", chat_id=42, text="hi")
    assert (caught.value.error_code, caught.value.retry_after) == (429, 7.0)
    assert fake_time.sleeps == [] and len(api.calls) == 1
    # Among many messages in a row the 429 is the whole bot's: the next message, to any chat, waits.
    sender.call_once("send_message", chat_id=43, text="hi")
    assert fake_time.sleeps == [7.0] and sender.stats["flood_waits"] == 1


def test_call_once_still_retries_server_errors_and_refuses_a_blocked_user() -> None:
    sender, api, _ = make_sender(private_interval=None, backoff_base=0.01)
    api.errors.extend([telegram_error(502, "Bad Gateway"), telegram_error(403, "Forbidden: bot was blocked by the user")])
    with pytest.raises(SendError) as caught:
        sender.call_once("send_message", chat_id=42, text="hi")
    assert (caught.value.error_code, caught.value.retry_after) == (403, None)
    assert len(api.calls) == 2


def test_server_errors_back_off_exponentially_then_give_up() -> None:
    sender, api, fake_time = make_sender(max_retries=3, backoff_base=0.5, backoff_max=1.5,
                                         global_per_second=None, private_interval=None)
    api.errors.extend(telegram_error(502, "Bad Gateway") for _ in range(4))
    with pytest.raises(SendError) as caught:
        sender.call("send_message", chat_id=42, text="hi")
    assert caught.value.error_code == 502
    assert len(api.calls) == 4  # the first try and three retries
    ceilings = [0.5, 1.0, 1.5]  # 0.5 * 2**n, capped at backoff_max
    assert len(fake_time.sleeps) == 3
    for slept, ceiling in zip(fake_time.sleeps, ceilings, strict=True):
        assert ceiling / 2 <= slept <= ceiling
    assert sender.stats["retries"] == 3 and sender.stats["failures"] == 1


@pytest.mark.parametrize("error", [requests.exceptions.ConnectionError("reset"),
                                   requests.exceptions.ReadTimeout("slow")])
def test_network_errors_are_retried(error: Exception) -> None:
    sender, api, fake_time = make_sender()
    api.errors.append(error)
    assert sender.call("answer_callback_query", callback_query_id="q")["method"] == "answer_callback_query"
    assert len(api.calls) == 2 and len(fake_time.sleeps) == 1


def test_network_failure_after_retries_is_a_send_error_without_code() -> None:
    sender, api, _ = make_sender(max_retries=1)
    api.errors.extend([requests.exceptions.ConnectionError("down")] * 2)
    with pytest.raises(SendError) as caught:
        sender.call("get_me")
    assert caught.value.error_code is None
    assert "down" in caught.value.description


def test_client_errors_raise_at_once() -> None:
    sender, api, fake_time = make_sender()
    api.errors.append(telegram_error(403, "Forbidden: bot was blocked by the user"))
    with pytest.raises(SendError) as caught:
        sender.call("send_message", chat_id=42, text="hi")
    assert caught.value.error_code == 403
    assert caught.value.description == "Forbidden: bot was blocked by the user"
    assert caught.value.method == "send_message"
    assert len(api.calls) == 1 and fake_time.sleeps == []


def test_programming_errors_are_not_swallowed() -> None:
    sender, api, _ = make_sender()
    api.errors.append(TypeError("unexpected keyword"))
    with pytest.raises(TypeError):
        sender.call("send_message", chat_id=42, text="hi")


# -- long texts ------------------------------------------------------------------------------


def test_split_prefers_paragraphs_and_packs_them() -> None:
    text = "\n\n".join(["a" * 3000, "b" * 3000, "c" * 100])
    assert split_text(text) == ["a" * 3000, "b" * 3000 + "\n\n" + "c" * 100]
    assert split_text("\n\n".join(["a" * 3000, "b\nb" * 1000])) == ["a" * 3000, "b\nb" * 1000]


def test_split_falls_back_to_lines_spaces_and_hard_cuts() -> None:
    lines = split_text("x" * 3000 + "\n" + "y" * 3000)
    assert lines == ["x" * 3000, "y" * 3000]
    words = split_text(("word " * 2000).strip())
    assert all(len(chunk) <= MESSAGE_LIMIT for chunk in words)
    assert " ".join(words) == ("word " * 2000).strip()
    hard = split_text("z" * 10000)
    assert [len(chunk) for chunk in hard] == [4096, 4096, 1808]


def test_split_counts_utf16_units_like_telegram() -> None:
    chunks = split_text("😀" * 3000)  # 2 UTF-16 units each
    assert [len(chunk) for chunk in chunks] == [2048, 952]
    assert all(len(chunk.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT for chunk in chunks)


def test_short_text_is_one_chunk() -> None:
    assert split_text("hello") == ["hello"]


def test_send_message_splits_and_puts_the_keyboard_last() -> None:
    sender, api, _ = make_sender(private_interval=None)
    text = "\n\n".join(["p" * 4000, "q" * 4090, "r" * 10])
    result = sender.send_message(7, text, reply_markup="KB", parse_mode="HTML", reply_to_message_id=3)
    sent = [params for _, _, params in api.calls]
    assert [p["text"] for p in sent] == ["p" * 4000, "q" * 4090, "r" * 10]
    assert [p.get("reply_markup") for p in sent] == [None, None, "KB"]
    assert [p.get("reply_to_message_id") for p in sent] == [3, None, None]
    assert all(p["parse_mode"] == "HTML" and p["chat_id"] == 7 for p in sent)
    assert result == {"method": "send_message", "n": 3}


def test_call_send_message_also_splits() -> None:
    sender, api, _ = make_sender(private_interval=None)
    sender.call("send_message", chat_id=7, text="w" * 5000, reply_markup=None)
    assert [len(params["text"]) for _, _, params in api.calls] == [4096, 904]


# -- the real pyTelegramBotAPI client ----------------------------------------------------------



def test_deliver_sends_an_outbox_in_order_and_a_refused_call_costs_only_itself(caplog) -> None:
    from framework.context import Outgoing

    sender, api, _ = make_sender(private_interval=None)
    api.errors = [telegram_error(403, "Forbidden: bot was blocked by the user")]
    sender.deliver([
        Outgoing("send_message", {"chat_id": 1, "text": "to a user who blocked the bot"}),
        Outgoing("send_message", {"chat_id": 2, "text": "a" * (MESSAGE_LIMIT + 10), "parse_mode": None}),
        Outgoing("answer_callback_query", {"callback_query_id": "7", "text": None}),
    ])
    assert [(method, params.get("chat_id"), len(params.get("text") or "")) for _, method, params in api.calls] == [
        ("send_message", 1, 29), ("send_message", 2, MESSAGE_LIMIT), ("send_message", 2, 10),
        ("answer_callback_query", None, 0)]
    assert all("parse_mode" not in params for _, _, params in api.calls)  # None means "not given"
    assert "send_message to 1 failed" in caplog.text


def test_the_application_delivers_only_through_its_sender(bot_factory) -> None:
    from framework import Application

    assert not hasattr(Application, "deliver")
    bot = bot_factory({}, admins=(900,))
    bot.app.notify_admins("hello admins")
    assert [(r.chat_id, r.text) for r in bot.telegram.calls] == [(900, "hello admins")]


@pytest.fixture
def bot_api_server() -> Iterator[tuple[str, list[str]]]:
    """A local Bot API look-alike; yields its URL and the request paths it saw."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def answer(self) -> None:
            paths.append(self.path.split("?")[0])
            if "/getUpdates" in self.path:
                result: Any = [{"update_id": 5, "message": {"message_id": 1, "date": 0, "text": "hi",
                                                            "chat": {"id": 1, "type": "private"}}}]
            else:
                result = {"message_id": 9, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "sent"}
            body = json.dumps({"ok": True, "result": result}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved = apihelper.API_URL, apihelper.FILE_URL, apihelper.CUSTOM_REQUEST_SENDER
    yield f"http://127.0.0.1:{server.server_port}/", paths
    apihelper.API_URL, apihelper.FILE_URL, apihelper.CUSTOM_REQUEST_SENDER = saved
    server.shutdown()
    server.server_close()


def test_telebot_api_calls_the_configured_server(bot_api_server) -> None:
    url, paths = bot_api_server
    api = TelebotApi("123456:SECRET-sender-test", url)
    message = api.call("send_message", chat_id=1, text="hi")
    updates = api.call("get_updates", offset=None, limit=100, timeout=1, long_polling_timeout=1,
                       allowed_updates=None)
    assert isinstance(message, types.Message) and message.message_id == 9
    # Parsed from Telegram's answer only when read, then a whole Message.
    assert (message.text, message.chat.id, message.content_type) == ("sent", 1, "text")
    assert updates == [{"update_id": 5, "message": {"message_id": 1, "date": 0, "text": "hi",
                                                    "chat": {"id": 1, "type": "private"}}}]
    assert paths == ["/bot123456:SECRET-sender-test/sendMessage", "/bot123456:SECRET-sender-test/getUpdates"]
    assert apihelper.FILE_URL == url.rstrip("/") + "/file/bot{0}/{1}"
    assert "SECRET" not in repr(api)


def test_telebot_api_goes_through_the_proxy_the_environment_names(bot_api_server, monkeypatch) -> None:
    """The environment is read once, not per call, but it is still obeyed: HTTP_PROXY and NO_PROXY."""
    proxy, paths = bot_api_server                        # a forward proxy sees the absolute URL
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    api = TelebotApi("123456:SECRET-proxy-test", "http://api.telegram.invalid")
    assert api.call("send_message", chat_id=1, text="via proxy").message_id == 9
    assert paths == ["http://api.telegram.invalid/bot123456:SECRET-proxy-test/sendMessage"]

    monkeypatch.setenv("NO_PROXY", "api.telegram.invalid")
    direct = TelebotApi("123456:SECRET-proxy-test", "http://api.telegram.invalid")
    with pytest.raises(requests.exceptions.ConnectionError) as failed:  # straight to a host that does not exist
        direct.call("send_message", chat_id=1, text="direct")
    assert "SECRET" not in str(failed.value)
    assert len(paths) == 1


def test_an_operators_own_request_sender_is_kept(bot_api_server) -> None:
    url, paths = bot_api_server
    seen: list[str] = []

    def own_sender(method: str, request_url: str, **kwargs: Any) -> requests.Response:
        seen.append(request_url)
        return requests.request(method, request_url, **kwargs)

    apihelper.CUSTOM_REQUEST_SENDER = own_sender
    api = TelebotApi("123456:SECRET-sender-test", url)
    assert api.call("send_message", chat_id=1, text="hi").message_id == 9
    assert apihelper.CUSTOM_REQUEST_SENDER is own_sender and len(seen) == 1 and len(paths) == 1


@pytest.mark.parametrize(("given", "key"), [(123, 123), ("-100123", -100123), (" 42 ", 42), ("@news", "@news"),
                                            ("²", "²"), ("-١٢", "-١٢"), ("", None), (True, None), (None, None)])
def test_chat_key_takes_only_ascii_digits_as_an_id(given: object, key: object) -> None:
    from framework.sender import chat_key

    assert chat_key(given) == key
