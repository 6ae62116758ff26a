"""A fake Telegram Bot API server: serves pre-loaded updates, counts replies, misbehaves on command.

Why a server and not a stub object: the benchmark must drive the bot the way
Telegram does (HTTP long polling, one request per reply), and the reliability
suite must see what the bot does when Telegram answers 429, 502, hangs or drops
the connection. Both run the bot as a separate process against this server.

It runs in its own process (``python -m benchmarks.fakeapi --port 0`` prints
``PORT <n>``), so its CPU use is not charged to the bot, and is controlled over
HTTP under ``/control/``:

* ``POST /control/load``    ``{"path": "updates.jsonl"}`` or ``{"updates": [...]}``, optional
  ``"rate"`` (updates released per second; 0 = all at once) and ``"correlate": true``
  (match each sendMessage to the oldest unanswered update of its chat, for latencies)
* ``POST /control/faults``  a :class:`FaultPlan` as JSON (``{}`` turns faults off)
* ``GET  /control/stats``   counters and timings (see :meth:`FakeApi.stats`)
* ``GET  /control/replies`` every recorded reply ``[method, chat_id, text, t]``
* ``POST /control/reset``   forget everything
* ``POST /control/webhook`` fields ``getWebhookInfo`` answers besides what ``setWebhook`` stored
  (``{"pending_update_count": 3, "last_error_date": ..., "last_error_message": "..."}``)

Telegram semantics kept: ``getUpdates(offset)`` confirms (forgets) every update
below ``offset`` and returns the next unconfirmed ones, so an update handed to a
bot that dies before confirming it is delivered again.

A fault is injected *before* the call takes effect: a timed-out or dropped
sendMessage was not delivered. (A real timeout after Telegram accepted a message
cannot be told apart by any client, since the Bot API has no idempotency key; no
test can demand exactly-once for that case.) The one exception is ``slow``, for
getUpdates only: the answer comes after the client gave up, so the batch counts as
served and is delivered again, as Telegram does when a long poll's answer is lost.
"""
from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

BOT_USER = {"id": 777000001, "is_bot": True, "first_name": "bench", "username": "bench_bot"}

# Calls that answer an update; they are counted as replies and may be faulted.
REPLY_PREFIXES = ("send", "edit", "answerCallbackQuery", "copyMessage", "forwardMessage", "deleteMessage")


@dataclass
class FaultPlan:
    """What to break, as probabilities per eligible request (seeded, so runs repeat).

    ``methods``: ``"replies"`` (send*/edit*/answer*), ``"updates"`` (getUpdates
    only) or ``"all"`` (every method, getUpdates and getMe too).
    ``timeout``: held ``timeout_seconds``, then the connection is closed unanswered.
    ``pslow`` (getUpdates only): held ``slow_seconds``, then answered normally; a
    client whose read timeout is shorter gave up and gets the batch again.
    ``burst_every``/``burst_length``: every ``burst_every`` seconds, for
    ``burst_length`` seconds, every reply gets a 429 (a flood-wait storm).
    ``flood_at``/``flood_seconds``: once, from ``flood_at`` seconds after the plan
    was set, every getUpdates gets a 429 for ``flood_seconds`` (the calls that
    arrive in that window are counted, see ``flood_calls`` in the stats).
    ``updates_script``: fault kinds (``"-"``: none) for the first getUpdates after
    the plan was set, in order, outside the flood; the probabilities apply after
    it. A short run then sees every kind, whatever the timing.
    ``max_per_message``: a given (method, chat, text) -- for getUpdates, a given
    offset -- is faulted at most this many times (a flood excepted), so a bot that
    retries sensibly always gets through eventually.
    """

    p429: float = 0.0
    p502: float = 0.0
    ptimeout: float = 0.0
    pdrop: float = 0.0
    pslow: float = 0.0
    retry_after: int = 1
    timeout_seconds: float = 3.0
    slow_seconds: float = 7.0
    burst_every: float = 0.0
    burst_length: float = 0.0
    flood_at: float = 0.0
    flood_seconds: float = 0.0
    updates_script: list[str] = field(default_factory=list)
    methods: str = "replies"
    max_per_message: int = 3
    seed: int = 1

    def __post_init__(self) -> None:
        unknown = set(self.updates_script) - {"-", "429", "502", "timeout", "drop", "slow"}
        if unknown:
            raise ValueError(f"unknown fault kinds in updates_script: {sorted(unknown)}")

    @property
    def active(self) -> bool:
        return any((self.p429, self.p502, self.ptimeout, self.pdrop, self.pslow, self.burst_every,
                    self.flood_seconds, self.updates_script))

    def covers(self, method: str) -> bool:
        """Whether requests of ``method`` may be faulted under this plan."""
        if self.methods == "all":
            return True
        if method == "getUpdates":
            return self.methods == "updates"
        return self.methods == "replies" and method.startswith(REPLY_PREFIXES)


@dataclass
class _Served:
    first_at: float
    chat: Any
    times: int = 1


@dataclass
class FakeApi:
    """The server's state; every method is called under ``lock`` by the HTTP handler."""

    lock: threading.Condition = field(default_factory=threading.Condition)
    updates: list[dict[str, Any]] = field(default_factory=list)
    base: int = 0                       # index of the first unconfirmed update
    rate: float = 0.0
    released_from: float | None = None  # when the rate clock started (first getUpdates after load)
    correlate: bool = False
    served: dict[int, _Served] = field(default_factory=dict)
    first_served_at: float | None = None
    confirmed_all_at: float | None = None
    last_reply_at: float | None = None
    loaded_at: float | None = None
    requests_by_method: Counter = field(default_factory=Counter)
    replies_by_method: Counter = field(default_factory=Counter)
    reply_keys: Counter = field(default_factory=Counter)
    replies: list[tuple[str, Any, str | None, float]] = field(default_factory=list)
    pending_by_chat: dict[Any, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    latencies: list[float] = field(default_factory=list)
    redelivered: int = 0
    max_offset: int = 0
    plan: FaultPlan = field(default_factory=FaultPlan)
    rng: random.Random = field(default_factory=random.Random)
    faults: Counter = field(default_factory=Counter)
    faulted_keys: Counter = field(default_factory=Counter)
    blocked_until: dict[Any, float] = field(default_factory=dict)
    violations: int = 0
    poll_blocked_until: float = 0.0     # getUpdates answered 429: no long poll before this
    poll_violations: int = 0
    script_position: int = 0            # next entry of ``plan.updates_script``
    flood_calls: int = 0                # getUpdates requests that arrived inside the flood window
    flood_back_after: float | None = None  # seconds from the window's end to the next getUpdates
    burst_started: float = field(default_factory=time.monotonic)
    message_ids: int = 1000
    polls_waiting: int = 0              # getUpdates requests being held right now (long polls)
    poll_started_at: float | None = None  # when the newest of them arrived
    poll_deadline: float | None = None    # when it will be answered if nothing arrives
    webhook: dict[str, Any] = field(default_factory=dict)  # what getWebhookInfo answers

    def webhook_info(self) -> dict[str, Any]:
        """``getWebhookInfo``: the last ``setWebhook`` (its secret_token is never echoed, as Telegram)."""
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        info.update({k: v for k, v in self.webhook.items() if k != "secret_token"})
        return info

    def set_webhook(self, params: dict[str, str]) -> None:
        self.webhook["url"] = params.get("url", "")
        self.webhook["secret_token"] = params.get("secret_token")
        if params.get("max_connections"):
            self.webhook["max_connections"] = int(params["max_connections"])
        if params.get("allowed_updates"):
            self.webhook["allowed_updates"] = json.loads(params["allowed_updates"])

    # -- control ---------------------------------------------------------------------
    def load(self, updates: list[dict[str, Any]], rate: float, correlate: bool, append: bool) -> None:
        with self.lock:
            if not append:
                self.updates, self.base = [], 0
                self.served.clear()
                self.first_served_at = self.confirmed_all_at = self.last_reply_at = None
                self.latencies.clear()
                self.pending_by_chat.clear()
            self.updates.extend(sorted(updates, key=lambda u: u["update_id"]))
            self.rate, self.correlate = rate, correlate
            self.released_from = None
            self.loaded_at = time.monotonic()
            self.confirmed_all_at = None
            self.lock.notify_all()

    def set_faults(self, plan: FaultPlan) -> None:
        with self.lock:
            self.plan = plan
            self.rng = random.Random(plan.seed)
            self.burst_started = time.monotonic()
            self.script_position = 0

    def stats(self) -> dict[str, Any]:
        with self.lock:
            dup = sum(count - 1 for (method, _, _), count in self.reply_keys.items()
                      if count > 1 and method == "sendMessage")
            return {
                "loaded": len(self.updates), "pending": len(self.updates) - self.base,
                "served": len(self.served), "redelivered": self.redelivered, "max_offset": self.max_offset,
                "first_served_at": self.first_served_at, "confirmed_all_at": self.confirmed_all_at,
                "last_reply_at": self.last_reply_at, "now": time.monotonic(),
                "requests": dict(self.requests_by_method), "replies": dict(self.replies_by_method),
                "reply_count": sum(self.replies_by_method.values()), "duplicate_messages": dup,
                "faults": dict(self.faults), "violations": self.violations,
                "poll_violations": self.poll_violations, "flood_calls": self.flood_calls,
                "flood_back_after": self.flood_back_after,
                "polls_waiting": self.polls_waiting, "poll_started_at": self.poll_started_at,
                "poll_deadline": self.poll_deadline,
                "latencies": list(self.latencies),
            }

    # -- Bot API -----------------------------------------------------------------------
    def get_updates(self, params: dict[str, str]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 30.0)
        with self.lock:
            self.max_offset = max(self.max_offset, offset)
            while self.base < len(self.updates) and self.updates[self.base]["update_id"] < offset:
                self.base += 1
            if self.updates and self.base >= len(self.updates) and self.confirmed_all_at is None:
                self.confirmed_all_at = time.monotonic()
            self.polls_waiting += 1
            self.poll_started_at, self.poll_deadline = time.monotonic(), deadline
            try:
                while True:
                    now = time.monotonic()
                    if self.released_from is None and self.base < len(self.updates):
                        self.released_from = now
                    available = self._released(now) - self.base
                    if available > 0 or now >= deadline:
                        break
                    self.lock.wait(min(deadline - now, 0.02 if self.rate else deadline - now))
            finally:
                self.polls_waiting -= 1
            batch = self.updates[self.base:self.base + min(limit, max(available, 0))]
            now = time.monotonic()
            for update in batch:
                self._mark_served(update, now)
            return batch

    def _released(self, now: float) -> int:
        if not self.rate or self.released_from is None:
            return len(self.updates)
        return min(len(self.updates), int((now - self.released_from) * self.rate) + 1)

    def _mark_served(self, update: dict[str, Any], now: float) -> None:
        uid = update["update_id"]
        seen = self.served.get(uid)
        if seen is not None:
            seen.times += 1
            self.redelivered += 1
            return
        chat = _chat_of(update)
        self.served[uid] = _Served(now, chat)
        if self.first_served_at is None:
            self.first_served_at = now
        if self.correlate:
            self.pending_by_chat[chat].append(now)

    def reply(self, method: str, params: dict[str, str]) -> Any:
        now = time.monotonic()
        chat = _int_or(params.get("chat_id"))
        text = params.get("text", params.get("caption"))
        self.replies_by_method[method] += 1
        self.reply_keys[(method, chat, text)] += 1
        self.replies.append((method, chat, text, now))
        self.last_reply_at = now
        if self.correlate and method == "sendMessage":
            queue = self.pending_by_chat.get(chat)
            if queue:
                self.latencies.append(now - queue.popleft())
        if method.startswith(("send", "edit", "copy", "forward")):
            self.message_ids += 1
            return {"message_id": self.message_ids, "date": int(time.time()),
                    "chat": {"id": chat, "type": "private" if (chat or 0) > 0 else "group"},
                    "from": BOT_USER, "text": text or ""}
        return True

    # -- faults --------------------------------------------------------------------------
    def fault_for(self, method: str, params: dict[str, str]) -> str | None:
        """Decide (under the lock) whether this request fails, and how; also checks retry_after."""
        if method == "getUpdates":
            return self._poll_fault(params)
        is_reply = method.startswith(REPLY_PREFIXES)
        chat = _int_or(params.get("chat_id"))
        now = time.monotonic()
        if is_reply and chat is not None:
            until = self.blocked_until.get(chat)
            if until is not None and now < until - 0.05:
                self.violations += 1
        plan = self.plan
        if not plan.active or not plan.covers(method):
            return None
        key = (method, chat, params.get("text"))
        if self.faulted_keys[key] >= plan.max_per_message:
            return None
        if is_reply and plan.burst_every and (now - self.burst_started) % plan.burst_every < plan.burst_length:
            kind: str | None = "429"
        else:
            kind = self._roll(("429", plan.p429), ("502", plan.p502), ("timeout", plan.ptimeout), ("drop", plan.pdrop))
        if kind is None:
            return None
        self.faults[kind] += 1
        self.faulted_keys[key] += 1
        if kind == "429" and chat is not None:
            self.blocked_until[chat] = max(self.blocked_until.get(chat, 0.0), now + plan.retry_after)
        return kind

    def _poll_fault(self, params: dict[str, str]) -> str | None:
        """The same for getUpdates: a 429 blocks the long poll itself, and the flood window is counted."""
        now = time.monotonic()
        if now < self.poll_blocked_until - 0.05:
            self.poll_violations += 1
        plan = self.plan
        if not plan.active or not plan.covers("getUpdates"):
            return None
        flood_start = self.burst_started + plan.flood_at
        flood_end = flood_start + plan.flood_seconds
        if plan.flood_seconds and now >= flood_end and self.flood_back_after is None:
            self.flood_back_after = now - flood_end
        key = ("getUpdates", None, params.get("offset"))
        if plan.flood_seconds and flood_start <= now < flood_end:
            self.flood_calls += 1
            kind: str | None = "429"
        elif self.script_position < len(plan.updates_script):
            self.script_position += 1
            kind = plan.updates_script[self.script_position - 1]
            kind = None if kind == "-" else kind
        elif self.faulted_keys[key] >= plan.max_per_message:
            kind = None
        else:
            kind = self._roll(("429", plan.p429), ("502", plan.p502), ("timeout", plan.ptimeout),
                              ("drop", plan.pdrop), ("slow", plan.pslow))
        if kind is None:
            return None
        self.faults[f"getUpdates {kind}"] += 1
        self.faulted_keys[key] += 1
        if kind == "429":
            self.poll_blocked_until = max(self.poll_blocked_until, now + plan.retry_after)
        return kind

    def _roll(self, *chances: tuple[str, float]) -> str | None:
        """One seeded draw: the fault whose share of [0, 1) the roll fell into, or None."""
        roll = self.rng.random()
        for name, p in chances:
            if roll < p:
                return name
            roll -= p
        return None


def _chat_of(update: dict[str, Any]) -> Any:
    for kind in ("message", "edited_message"):
        if isinstance(update.get(kind), dict):
            return (update[kind].get("chat") or {}).get("id")
    query = update.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message") or {}
        return (message.get("chat") or {}).get("id") or (query.get("from") or {}).get("id")
    return None


def _int_or(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per bot thread, as with Telegram
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body are two writes; without NODELAY, Nagle + delayed ACK stall each reply ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _params(self) -> dict[str, str]:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
            kind = self.headers.get("Content-Type", "")
            if kind.startswith("application/json"):
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(body).items()})
            elif kind.startswith("application/x-www-form-urlencoded"):
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
        return params

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        api: FakeApi = self.server.api
        try:
            if path.startswith("/control/"):
                self._control(path[len("/control/"):], api)
                return
            segments = path.strip("/").split("/")
            if len(segments) != 2 or not segments[0].startswith("bot"):
                self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            method = segments[1]
            params = self._params()
            with api.lock:
                api.requests_by_method[method] += 1
                fault = api.fault_for(method, params)
            if fault == "slow":
                time.sleep(api.plan.slow_seconds)  # then answered: the client may have given up by now
            elif fault is not None:
                self._fail(fault, api.plan)
                return
            self._send(200, {"ok": True, "result": self._call(api, method, params)})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _call(self, api: FakeApi, method: str, params: dict[str, str]) -> Any:
        if method == "getUpdates":
            return api.get_updates(params)
        if method == "getMe":
            return BOT_USER
        if method in ("setWebhook", "getWebhookInfo"):
            with api.lock:
                if method == "setWebhook":
                    api.set_webhook(params)
                    return True
                return api.webhook_info()
        if method.startswith(REPLY_PREFIXES):
            with api.lock:
                return api.reply(method, params)
        return True  # deleteWebhook, setMyCommands, sendChatAction...

    def _fail(self, fault: str, plan: FaultPlan) -> None:
        if fault == "429":
            self._send(429, {"ok": False, "error_code": 429,
                             "description": f"Too Many Requests: retry after {plan.retry_after}",
                             "parameters": {"retry_after": plan.retry_after}})
        elif fault == "502":
            self._send_raw(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
        else:
            if fault == "timeout":
                time.sleep(plan.timeout_seconds)
            self.close_connection = True  # no answer at all: the client sees a dropped connection

    def _control(self, action: str, api: FakeApi) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        if action == "load":
            updates = body.get("updates") or (_read_jsonl(body["path"]) if body.get("path") else [])
            api.load(updates, float(body.get("rate") or 0), bool(body.get("correlate")), bool(body.get("append")))
            self._send(200, {"ok": True, "loaded": len(updates)})
        elif action == "faults":
            plan = FaultPlan(**body)
            api.set_faults(plan)
            self._send(200, {"ok": True, "plan": asdict(plan)})
        elif action == "stats":
            self._send(200, api.stats())
        elif action == "replies":
            with api.lock:
                self._send(200, list(api.replies))
        elif action == "webhook":
            with api.lock:
                api.webhook.update(body)
                self._send(200, {"ok": True})
        elif action == "reset":
            self.server.api = FakeApi()
            self._send(200, {"ok": True})
        else:
            self._send(404, {"ok": False})

    def _send(self, status: int, payload: Any) -> None:
        self._send_raw(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _send_raw(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    api: FakeApi


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def serve(host: str = "127.0.0.1", port: int = 0) -> _Server:
    """Bind the server (not started); ``server.server_address[1]`` is the port."""
    server = _Server((host, port), _Handler)
    server.api = FakeApi()
    return server


# -- the client side: start the server process and talk to its control API ------------------


class FakeApiProcess:
    """Start ``python -m benchmarks.fakeapi`` and control it; use as a context manager."""

    def __init__(self, python: str = sys.executable, cwd: str | None = None) -> None:
        import subprocess

        self._proc = subprocess.Popen([python, "-m", "benchmarks.fakeapi", "--port", "0"], cwd=cwd,
                                      stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("PORT "):
            self._proc.kill()
            raise RuntimeError(f"fake Bot API server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._session = requests.Session()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def load(self, updates: list[dict[str, Any]] | None = None, *, path: str | None = None, rate: float = 0.0,
             correlate: bool = False, append: bool = False) -> int:
        body: dict[str, Any] = {"rate": rate, "correlate": correlate, "append": append}
        if path is not None:
            body["path"] = path
        else:
            body["updates"] = updates or []
        return self._post("load", body)["loaded"]

    def faults(self, **plan: Any) -> dict[str, Any]:
        return self._post("faults", plan)["plan"]

    def webhook(self, **fields: Any) -> dict[str, Any]:
        """Add ``fields`` to what ``getWebhookInfo`` answers (a pending count, the last error)."""
        return self._post("webhook", fields)

    def stats(self) -> dict[str, Any]:
        return self._session.get(f"{self.url}/control/stats", timeout=30).json()

    def replies(self) -> list[list[Any]]:
        return self._session.get(f"{self.url}/control/replies", timeout=30).json()

    def reset(self) -> None:
        self._post("reset", {})

    def wait(self, predicate: Any, timeout: float, interval: float = 0.2) -> dict[str, Any]:
        """Poll :meth:`stats` until ``predicate(stats)``; returns the last stats either way."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats) or time.monotonic() >= deadline:
                return stats
            time.sleep(interval)

    def _post(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._session.post(f"{self.url}/control/{action}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._session.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except Exception:  # noqa: BLE001 - kill below
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> FakeApiProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fake Telegram Bot API server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = serve(args.host, args.port)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
