"""pytest plugin for plugbot and its plugin authors (registered as ``pytest11``).

Service fixtures give each test its own throwaway PostgreSQL database and
Redis key prefix. Without the services those tests skip with the reason;
with ``PLUGBOT_REQUIRE_SERVICES=1`` (set by CI) a missing service fails.

Environment:
  PLUGBOT_TEST_POSTGRES_URL  admin URL used to create throwaway databases
                             (default postgresql://postgres@127.0.0.1:5432/test)
  PLUGBOT_TEST_REDIS_URL     (default redis://127.0.0.1:6379/0)
  PLUGBOT_REQUIRE_SERVICES   1 → a missing service is a failure, not a skip
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def services_required() -> bool:
    return os.environ.get("PLUGBOT_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if services_required():
        pytest.fail(message + "; PLUGBOT_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only() -> Iterator[None]:
    """Secrets a test registers (its fake token, an API key) are forgotten after it, so they are not
    redacted out of the next tests' messages."""
    from .redaction import keep_only, known_secrets

    before = known_secrets()
    yield
    keep_only(before)


@contextmanager
def throwaway_postgres(admin_url: str, prefix: str = "plugbot_test") -> Iterator[str]:
    """URL of a new, empty database ``<prefix>_<hex>`` on the server of ``admin_url``, dropped
    (``WITH (FORCE)``) afterwards; the tests' fixture, a restore target and the benchmarks use it."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(admin_url, connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(admin_url)._replace(path="/" + name))
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    import psycopg2

    admin_url = os.environ.get("PLUGBOT_TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        psycopg2.connect(admin_url, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "service missing"
        _unavailable("PostgreSQL", exc)
    with throwaway_postgres(admin_url) as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """URL of the test Redis; pair it with :func:`redis_prefix` so runs never collide."""
    import redis

    url = os.environ.get("PLUGBOT_TEST_REDIS_URL", DEFAULT_REDIS)
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
    yield url
    client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to this test; its keys are deleted afterwards."""
    import redis

    prefix = f"plugbot-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


# ---------------------------------------------------------------------------
# A whole bot in a test: fake Telegram, simulated users, buttons, jobs, clock
# ---------------------------------------------------------------------------

import datetime as dt  # noqa: E402
import itertools  # noqa: E402
import threading  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from telebot import apihelper, types  # noqa: E402

BOT_USERNAME = "plugbot_test_bot"


@dataclass
class Reply:
    """One outgoing Bot API call the bot made, in a shape tests can assert on.

    ``method`` is the Bot API method (``send_message``, ``edit_message_text``,
    ``answer_callback_query``...), ``text`` the text or caption, ``buttons`` the inline
    keyboard as rows of ``(label, data)``, ``photo``/``document`` the bytes sent,
    ``params`` every argument of the call.
    """

    method: str
    chat_id: int | None
    text: str | None = None
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    photo: bytes | None = None
    document: bytes | None = None
    filename: str | None = None
    message_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]


def _buttons(markup: Any) -> list[list[tuple[str, str]]]:
    if markup is None:
        return []
    rows = markup.keyboard if hasattr(markup, "keyboard") else markup.get("inline_keyboard", [])
    result = []
    for row in rows:
        result.append([(b.text, b.callback_data) if hasattr(b, "text") else (b["text"], b.get("callback_data"))
                       for b in row])
    return result


class FakeTelegram:
    """A Bot API that records every call instead of sending it (thread-safe).

    Payments for Telegram Stars work without Telegram: ``invoices`` lists what ``send_invoice``
    and ``create_invoice_link`` were asked for (the link is ``links[url]``),
    ``pre_checkout_answers`` maps a query id to ``(ok, error_message)``, ``refund_star_payment``
    refunds a charge once (again: ``CHARGE_ALREADY_REFUNDED``, as Telegram answers; a charge
    listed in ``refund_failures`` fails with that description), ``edit_user_star_subscription``
    records ``subscriptions[(user_id, charge_id)] = is_canceled``, and ``get_star_transactions``
    answers with ``star_transactions`` (dicts in the Bot API's ``StarTransaction`` shape).
    """

    def __init__(self, username: str = BOT_USERNAME):
        self.username = username
        self.calls: list[Reply] = []
        self.messages: dict[tuple[int, int], Reply] = {}
        # The command menus set with set_my_commands: None is everyone's, a chat id a chat's own.
        self.menus: dict[int | None, list[str]] = {}
        self.invoices: list[Reply] = []
        self.links: dict[str, Reply] = {}
        self.pre_checkout_answers: dict[str, tuple[bool, str | None]] = {}
        self.refunded: set[str] = set()
        self.refund_failures: dict[str, str] = {}
        self.subscriptions: dict[tuple[int, str], bool] = {}
        self.star_transactions: list[dict[str, Any]] = []
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self.chat_members: dict[tuple[int, int], str] = {}  # (chat, user) → status getChatMember answers
        self.member_counts: dict[int, int] = {}  # chat → what getChatMemberCount answers (default 2)

    def set_member(self, chat_id: int, telegram_id: int, status: str) -> None:
        """What ``getChatMember`` says of ``telegram_id`` in ``chat_id`` (default: ``member``)."""
        self.chat_members[(chat_id, telegram_id)] = status

    def call(self, method: str, **params: Any) -> Any:
        if method == "get_me":
            return types.User(id=1, is_bot=True, first_name="plugbot", username=self.username)
        if method in ("set_my_commands", "delete_my_commands"):
            scope = params.get("scope")
            chat = getattr(scope, "chat_id", None)
            with self._lock:
                if method == "set_my_commands":
                    self.menus[chat] = [command.command for command in params.get("commands", [])]
                else:
                    self.menus.pop(chat, None)
            return True
        if method in ("delete_webhook", "set_webhook", "send_chat_action"):
            return True
        if method in _PAYMENT_METHODS:
            with self._lock:
                return self._payment(method, params)
        if method == "get_chat_member_count":
            return self.member_counts.get(params.get("chat_id"), 2)
        if method == "get_chat_member":
            status = self.chat_members.get((params.get("chat_id"), params.get("user_id")), "member")
            user = types.User(params.get("user_id"), False, "member")
            return types.ChatMember(user, status)
        with self._lock:
            reply = self._record(method, params)
        if reply.message_id is not None and method.startswith("send_"):
            return types.Message(reply.message_id, None, int(dt.datetime.now().timestamp()),
                                 types.Chat(reply.chat_id, "private"), "text", {}, "")
        return True

    def _record(self, method: str, params: dict[str, Any]) -> Reply:
        reply = Reply(method, params.get("chat_id"), text=params.get("text", params.get("caption")),
                      buttons=_buttons(params.get("reply_markup")), params=params)
        if method == "send_photo":
            reply.photo = _bytes(params.get("photo"))
        if method == "send_document":
            reply.document = _bytes(params.get("document"))
            reply.filename = params.get("visible_file_name")
        if method.startswith("send_"):
            reply.message_id = next(self._ids)
            self.messages[(reply.chat_id, reply.message_id)] = reply
        if method == "send_invoice":
            self.invoices.append(reply)
        elif method in ("edit_message_text", "edit_message_reply_markup"):
            reply.message_id = params.get("message_id")
            original = self.messages.get((reply.chat_id, reply.message_id))
            if original is not None:
                if method == "edit_message_text":
                    original.text = reply.text
                original.buttons = reply.buttons
        self.calls.append(reply)
        return reply


    def _payment(self, method: str, params: dict[str, Any]) -> Any:
        reply = self._record(method, params)
        if method == "create_invoice_link":
            self.invoices.append(reply)
            link = f"https://t.me/$fake-invoice-{next(self._ids)}"
            self.links[link] = reply
            return link
        if method == "answer_pre_checkout_query":
            self.pre_checkout_answers[params["pre_checkout_query_id"]] = (params["ok"], params.get("error_message"))
            return True
        if method == "refund_star_payment":
            charge = params["telegram_payment_charge_id"]
            failure = self.refund_failures.get(charge) or ("CHARGE_ALREADY_REFUNDED" if charge in self.refunded else None)
            if failure:
                raise apihelper.ApiTelegramException(method, None, {"ok": False, "error_code": 400,
                                                                    "description": f"Bad Request: {failure}"})
            self.refunded.add(charge)
            return True
        if method == "edit_user_star_subscription":
            self.subscriptions[(params["user_id"], params["telegram_payment_charge_id"])] = params["is_canceled"]
            return True
        # get_star_transactions
        offset, limit = params.get("offset") or 0, params.get("limit") or 100
        return types.StarTransactions.de_json({"transactions": self.star_transactions[offset:offset + limit]})


_PAYMENT_METHODS = ("create_invoice_link", "answer_pre_checkout_query", "refund_star_payment",
                    "edit_user_star_subscription", "get_star_transactions")


def _bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if hasattr(value, "read"):
        return value.read()
    return None


class ManualClock:
    """A monotonic-style clock (float seconds) for services that take ``clock=``: TTLs without sleeping."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


CLOSED_PORT_REDIS_URL = "redis://127.0.0.1:1/0"
"""A Redis URL nothing listens on: for testing outage behaviour."""


class Clock:
    """The application's clock, movable by tests."""

    def __init__(self, now: dt.datetime | None = None):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now if self.now is not None else dt.datetime.now(dt.UTC)


class TestUser:
    """A Telegram user talking to the bot in one chat (private unless ``chat`` is given)."""

    __test__ = False

    def __init__(self, bot: TestBot, telegram_id: int, chat: dict[str, Any] | None = None, **profile: Any):
        self.bot = bot
        self.id = telegram_id
        self.profile = {"id": telegram_id, "is_bot": False, "first_name": f"User{telegram_id}", **profile}
        self.chat = chat or {"id": telegram_id, "type": "private", "first_name": self.profile["first_name"]}

    def in_chat(self, chat_id: int, title: str = "Group", kind: str = "group") -> TestUser:
        """The same user writing in a group chat."""
        return TestUser(self.bot, self.id, {"id": chat_id, "type": kind, "title": title},
                        **{k: v for k, v in self.profile.items() if k not in ("id", "is_bot")})

    def send(self, text: str, **extra: Any) -> list[Reply]:
        """Send a text message; returns what the bot sent while handling it."""
        return self.bot.process(self.message_update(text, **extra))

    def send_message(self, fields: dict[str, Any]) -> list[Reply]:
        return self.bot.process(self._wrap(fields))

    def message_update(self, text: str, **extra: Any) -> dict[str, Any]:
        """The raw update of a text message from this user, not yet sent: for redelivery tests."""
        message = {"text": text, **extra}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._wrap(message)

    def _wrap(self, fields: dict[str, Any]) -> dict[str, Any]:
        message = {"message_id": self.bot.next_message_id(), "date": self.bot.timestamp(),
                   "chat": self.chat, "from": self.profile, **fields}
        return {"update_id": self.bot.next_update_id(), "message": message}

    def press(self, text: str | None = None, *, data: Any = None, owner: int | None = None,
              message: Reply | None = None) -> list[Reply]:
        """Press the inline button labelled ``text`` on the newest message showing it, or send
        ``data`` on ``message`` (default: the newest message) as a button that was never shown:
        a :class:`framework.CallbackData` instance, packed for ``owner`` (default: this user),
        or a raw string (a forged or corrupt button)."""
        if text is not None:
            message, data = self.bot.find_button(self.chat["id"], text)
        elif data is not None and not isinstance(data, str):
            data = data.pack(self.id if owner is None else owner)
        if message is None:
            message = self.bot.latest(self.chat["id"])
        origin = {"message_id": message.message_id if message else 1, "date": self.bot.timestamp(),
                  "chat": self.chat, "text": message.text if message else ""}
        query = {"id": str(self.bot.next_update_id()), "from": self.profile, "chat_instance": "1",
                 "data": data, "message": origin}
        return self.bot.process({"update_id": self.bot.next_update_id(), "callback_query": query})

    @property
    def last(self) -> Reply | None:
        return self.bot.latest(self.chat["id"])

    # -- payments ----------------------------------------------------------------------------
    def pre_checkout(self, invoice: Reply, *, amount: int | None = None, payload: str | None = None,
                     currency: str | None = None) -> tuple[bool, str | None]:
        """Telegram asking whether to go ahead with paying ``invoice`` (change ``amount``/``payload``
        to forge one); returns the bot's answer ``(ok, error_message)``."""
        fields = _invoice_fields(invoice, amount, payload, currency)
        query_id = f"pcq-{self.bot.next_update_id()}"
        query = {"id": query_id, "from": self.profile, **fields}
        self.bot.process({"update_id": self.bot.next_update_id(), "pre_checkout_query": query})
        return self.bot.telegram.pre_checkout_answers.get(query_id, (False, "no answer"))

    def payment_update(self, invoice: Reply, charge_id: str, *, amount: int | None = None,
                       payload: str | None = None, recurring: bool = False,
                       expires: int | None = None) -> dict[str, Any]:
        """The ``successful_payment`` message of ``invoice`` paid with ``charge_id``, not yet sent."""
        payment = {**_invoice_fields(invoice, amount, payload, None), "telegram_payment_charge_id": charge_id,
                   "provider_payment_charge_id": ""}
        if recurring or expires is not None:
            payment["is_recurring"] = recurring
            payment["subscription_expiration_date"] = expires
        if recurring:
            payment["is_first_recurring"] = False
        return self._wrap({"successful_payment": payment})

    def pay(self, invoice: Reply, charge_id: str | None = None, **fields: Any) -> list[Reply]:
        """Pay ``invoice`` as Telegram does: the pre-checkout query, then (if the bot said yes) the
        ``successful_payment`` message. Returns what the bot sent after the payment."""
        ok, error = self.pre_checkout(invoice)
        if not ok:
            raise AssertionError(f"the bot refused the pre-checkout query: {error}")
        charge_id = charge_id or f"charge-{self.bot.next_update_id()}"
        return self.bot.process(self.payment_update(invoice, charge_id, **fields))

    def refunded_payment(self, invoice: Reply, charge_id: str) -> list[Reply]:
        """Telegram's ``refunded_payment`` message: the payment ``charge_id`` of ``invoice`` was refunded."""
        payment = {**_invoice_fields(invoice, None, None, None), "telegram_payment_charge_id": charge_id}
        return self.send_message({"refunded_payment": payment})


def _invoice_fields(invoice: Reply, amount: int | None, payload: str | None, currency: str | None) -> dict[str, Any]:
    params = invoice.params
    prices = params.get("prices") or []
    total = sum(p.amount if hasattr(p, "amount") else p["amount"] for p in prices)
    return {"currency": currency or params.get("currency", "XTR"), "total_amount": total if amount is None else amount,
            "invoice_payload": payload if payload is not None else params.get("invoice_payload", params.get("payload"))}


class TestBot:
    """An application wired to :class:`FakeTelegram`, driven synchronously by tests."""

    __test__ = False

    def __init__(self, app: Any, telegram: FakeTelegram, clock: Clock):
        self.app = app
        self.telegram = telegram
        self.clock = clock
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    def user(self, telegram_id: int, **profile: Any) -> TestUser:
        return TestUser(self, telegram_id, **profile)

    def process(self, update: dict[str, Any]) -> list[Reply]:
        """Run one raw update through the real pipeline; returns the calls it caused."""
        start = len(self.telegram.calls)
        self.app.process_update(update)
        return [r for r in self.telegram.calls[start:] if r.method != "answer_callback_query" or r.text]

    def run_job(self, job_id: str) -> list[Reply]:
        start = len(self.telegram.calls)
        self.app.run_job(job_id)
        return self.telegram.calls[start:]

    def set_time(self, when: dt.datetime) -> None:
        self.clock.now = when if when.tzinfo else when.replace(tzinfo=dt.UTC)

    def advance(self, **delta: float) -> None:
        self.clock.now = self.clock() + dt.timedelta(**delta)

    def latest(self, chat_id: int) -> Reply | None:
        for reply in reversed(self.telegram.calls):
            if reply.chat_id == chat_id and reply.message_id is not None and reply.method.startswith("send_"):
                return reply
        return None

    def find_button(self, chat_id: int, text: str) -> tuple[Reply, str]:
        """The newest message in ``chat_id`` with a button labelled ``text`` (exact, else containing it)."""
        messages = [r for r in reversed(list(self.telegram.messages.values())) if r.chat_id == chat_id]
        for matches in (lambda label: label == text, lambda label: text in label):
            for reply in messages:
                for row in reply.buttons:
                    for label, data in row:
                        if matches(label):
                            return reply, data
        raise AssertionError(f"no button {text!r} in chat {chat_id}")

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def continue_update_ids(self) -> None:
        """Number new updates after the last one the database processed, as Telegram does for a
        restarted bot (a bot built on an existing database would otherwise have its updates skipped
        as already processed)."""
        from .db import connection_scope
        from .models import ProcessedUpdate

        with connection_scope():
            last = ProcessedUpdate.select(ProcessedUpdate.update_id).order_by(ProcessedUpdate.update_id.desc()).scalar()
        if last:
            self._update_ids = itertools.count(last + 1)

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def timestamp(self) -> int:
        return int(self.clock().timestamp())


TEST_SETTINGS: dict[str, Any] = {
    "workers": 4,
    "sender": {"global_per_second": 1_000_000, "private_interval": 0.0, "group_per_minute": 1_000_000,
               "max_retries": 2},
}


@pytest.fixture
def bot_factory(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """Build test bots: ``bot_factory(plugins={"expenses": {}}, database="sqlite"|"postgres", redis=False)``.

    The database is a fresh SQLite file or a throwaway PostgreSQL database;
    with ``redis=True`` sessions, rate limits and cache use the real Redis
    under a key prefix of their own.
    """
    from .app import Application
    from .config import load_config

    built: list[Any] = []

    def make(plugins: dict[str, Any] | None = None, *, database: str = "sqlite", redis: bool = False,
             config: dict[str, Any] | None = None, admins: tuple[int, ...] = (), start: bool = True,
             db_url: str | None = None, redis_prefix: str | None = None) -> TestBot:
        if db_url is None:
            db_url = (request.getfixturevalue("postgres_url") if database == "postgres"
                      else f"sqlite:///{tmp_path}/bot-{len(built)}.db")
        overrides: dict[str, Any] = {**TEST_SETTINGS, "database": {"url": db_url}, "admins": list(admins),
                                     "plugins": plugins or {}}
        if redis:
            overrides["redis"] = {"url": request.getfixturevalue("redis_url"),
                                  "prefix": redis_prefix or request.getfixturevalue("redis_prefix")}
        cfg = load_config(None, env={}, overrides=_deep_merge(overrides, config or {}))
        # One application is live per process: the next bot (a restart, say) ends the previous one's life.
        for previous in built:
            previous.app.stop()
        telegram, clock = FakeTelegram(), Clock()
        app = Application(cfg, api=telegram, clock=clock)
        if start:
            try:
                app.start(scheduler=False)
            except BaseException:
                app.stop()  # a bot that failed to start must not stay live for the next test's
                raise
        bot = TestBot(app, telegram, clock)
        if start:
            bot.continue_update_ids()
        built.append(bot)
        return bot

    yield make
    for bot in reversed(built):
        bot.app.stop()


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


# ---------------------------------------------------------------------------
# Counting what an update costs the database
# ---------------------------------------------------------------------------

import contextlib  # noqa: E402


class Statements(list[str]):
    """The SQL statements :func:`record_sql` saw, in order."""

    def touching(self, table: str) -> list[str]:
        """The statements naming ``table`` (quoted, as peewee writes it)."""
        return [sql for sql in self if f'"{table}"' in sql]


@contextlib.contextmanager
def record_sql() -> Iterator[Statements]:
    """Every SQL statement peewee sends inside the block, in order (all threads).

    For tests that pin how many statements a path costs: ``BEGIN``/``COMMIT``
    issued by the driver itself are not statements peewee sends and are not listed.
    ``statements.touching("users")`` keeps those naming one table.
    """
    from .db import database

    real = database.obj
    statements = Statements()
    lock = threading.Lock()
    original = real.execute_sql

    def execute_sql(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        with lock:
            statements.append(sql)
        return original(sql, params, *args, **kwargs)

    real.execute_sql = execute_sql
    try:
        yield statements
    finally:
        del real.execute_sql


# ---------------------------------------------------------------------------
# Waiting for a background thread (scheduler, dispatcher) to get somewhere
# ---------------------------------------------------------------------------

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402


def eventually(condition: Callable[[], bool], timeout: float = 10, interval: float = 0.005) -> bool:
    """Poll ``condition`` until it holds; False after ``timeout`` seconds.

    For states another thread reaches (a job ran, a worker finished). The limit is not
    a timing assertion, it only keeps a broken thread from hanging the run.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


# ---------------------------------------------------------------------------
# Translations: every language has every text
# ---------------------------------------------------------------------------

def assert_locales_complete(plugin: str, *, module: str | None = None,
                            languages: tuple[str, ...] = ("en", "ru")) -> None:
    """Fail unless the plugin's catalogs cover ``languages`` with every key and no blank text.

    ``plugin`` is the plugin's name (``"core"`` for the built-in texts). Its module is
    ``module`` if given, else the ``plugbot.plugins`` entry point of that name, else
    ``plugins.<plugin>``; its folders are the ones its ``plugbot_register_locales`` hook
    registers. Plural keys are compared by the forms each language needs
    (:meth:`framework.i18n.Translator.missing_keys`): ``x.one``/``x.other`` in English is
    matched by ``x.one``/``x.few``/``x.many`` in Russian.
    """
    from .i18n import CORE_LOCALES, Translator, load_catalog_file

    folders = [Path(CORE_LOCALES)] if plugin == "core" else _locale_folders(plugin, module)
    assert folders, f"{plugin}: plugbot_register_locales registers no folder"
    translator = Translator()
    for folder in folders:
        assert folder.is_dir(), f"{plugin}: no locales folder at {folder}"
        translator.add_catalog(plugin, folder)
    absent = sorted(set(languages) - set(translator.languages(plugin)))
    assert not absent, f"{plugin}: no catalog for {absent} (has {translator.languages(plugin)})"
    gaps = translator.missing_keys().get(plugin, {})
    problems = [f"{lang} lacks {', '.join(keys)}" if lang != translator.default_language
                else f"{lang} lacks {', '.join(keys)} (a key only a translation has: renamed or mistyped?)"
                for lang, keys in sorted(gaps.items())]
    for folder in folders:
        for lang in languages:
            path = folder / f"{lang}.yaml"
            if path.exists():
                blank = sorted(key for key, text in load_catalog_file(path).items() if not text.strip())
                if blank:
                    problems.append(f"{lang} has blank texts {', '.join(blank)}")
    assert not problems, f"{plugin}: incomplete translations: " + "; ".join(problems)


def _locale_folders(plugin: str, module: str | None) -> list[Path]:
    from .plugins import PluginManager

    loaded = PluginManager._resolve_module(plugin, module)
    folders: list[Path] = []
    hook = getattr(loaded, "plugbot_register_locales", None)
    if hook is not None:
        hook(register=lambda folder: folders.append(Path(folder)))
    return folders
