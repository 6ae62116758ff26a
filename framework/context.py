"""What a handler receives: :class:`Context` for updates, :class:`JobContext` for jobs.

A handler never talks to Telegram directly. ``ctx.reply`` and friends put
calls in an outbox that the pipeline sends through the rate-limited sender
*after* the update's transaction committed, so a handler that fails halfway
sends nothing but the friendly error, and nothing it wrote is kept.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telebot import types

from .audit import AuditTrail
from .callbacks import CallbackData
from .origin import Origin, origin

if TYPE_CHECKING:
    from .access import AccessControl
    from .app import Application
    from .cache import Cache
    from .i18n import Translator
    from .llm import LLMService
    from .models import User
    from .ratelimit import RateLimiter
    from .runtime import RuntimeSettings
    from .scheduler import Scheduler
    from .users import UserService

log = logging.getLogger("plugbot.jobs")


@dataclass(frozen=True)
class Button:
    """An inline button: its label and the typed data a press brings back (:class:`framework.CallbackData`).

    The core packs ``data`` for the user the message is for, so only they can press it (unless
    the data class is declared ``owner=False``); the press reaches the handler registered for the
    class as ``fn(ctx, data)``.
    """

    text: str
    data: CallbackData

    def __post_init__(self) -> None:
        if not isinstance(self.data, CallbackData):
            raise TypeError(f"Button({self.text!r}, ...) takes a CallbackData instance, got {self.data!r} (raw string callback data is gone since "
                            "plugin API 2.0): "
                            "declare class MyData(CallbackData, prefix=\"my\") and register.callback(MyData, fn)")


def keyboard(buttons: list[list[Button]] | None, owner: int | None,
             registered: Callable[[type[CallbackData]], bool] = lambda data_class: True,
             ) -> types.InlineKeyboardMarkup | None:
    """Rows of buttons → Telegram markup, each button's data packed for ``owner`` (a Telegram user id).

    Data that would not fit Telegram's 64 bytes, an owner-bound button with no owner, or a data
    class no plugin registered (its press could only be refused) raises ``ValueError`` here,
    where the plugin builds it.
    """
    if not buttons:
        return None
    markup = types.InlineKeyboardMarkup()
    for row in buttons:
        for item in row:
            if not registered(type(item.data)):
                raise ValueError(f"no plugin registered {type(item.data).__name__} "
                                 f"(prefix {item.data.__prefix__!r}): register.callback it, or its presses "
                                 "could only be refused")
        markup.row(*[types.InlineKeyboardButton(item.text, callback_data=item.data.pack(owner)) for item in row])
    return markup


@dataclass
class Outgoing:
    """One Bot API call waiting in the outbox (``method`` is the TeleBot method name)."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)


class SessionView:
    """The current user's conversation state, as seen by one plugin.

    A state belongs to the plugin that set it: another plugin reads ``None``.
    Changes are kept here and saved by the pipeline once the update succeeded.
    """

    def __init__(self, app: Application, telegram_id: int, plugin: str, chat_id: int | None = None):
        self._app = app
        self._telegram_id = telegram_id
        self._chat_id = chat_id
        self.plugin = plugin
        self._loaded: Any = None
        self.pending: tuple[str, str | None, dict[str, Any]] | None = None  # ("save"|"clear", state, data)

    def _load(self) -> Any:
        if self._loaded is None:
            self._loaded = self._app.sessions.load(self._telegram_id)
        return self._loaded

    @property
    def raw_owner(self) -> str | None:
        return self._load().owner

    @property
    def expired(self) -> tuple[str, str] | None:
        """``(owner, command)`` of this user's conversation that timed out, as loaded with the state."""
        return self._load().expired

    @property
    def state(self) -> str | None:
        if self.pending is not None:
            return self.pending[1]
        loaded = self._load()
        return loaded.state if loaded.owner == self.plugin else None

    @property
    def data(self) -> dict[str, Any]:
        if self.pending is not None:
            return {k: v for k, v in self.pending[2].items() if not k.startswith("_")}
        loaded = self._load()
        if loaded.owner != self.plugin:
            return {}
        return {k: v for k, v in (loaded.data or {}).items() if not k.startswith("_")}

    @property
    def conversation(self) -> str | None:
        if self.pending is not None:
            return self.pending[2].get("_conv")
        loaded = self._load()
        return (loaded.data or {}).get("_conv") if loaded.owner == self.plugin else None

    @property
    def chat(self) -> int | None:
        """The chat the conversation started in: its answers are only taken from there."""
        if self.pending is not None:
            return self.pending[2].get("_chat")
        return (self._load().data or {}).get("_chat")

    def goto(self, state: str, **data: Any) -> None:
        """Move to ``state`` merging ``data`` into the temp data (JSON values only)."""
        conv = self._app.find_conversation(self.plugin, state, self.conversation)
        conv.check_transition(self.state, state)
        merged = {**self.data, **data, "_conv": conv.name, "_cmd": conv.command,
                  "_chat": self.chat if self.state is not None else self._chat_id}
        self.pending = ("save", state, merged)

    def update(self, **data: Any) -> None:
        """Change temp data without leaving the current state."""
        if self.state is None:
            raise RuntimeError("no conversation to update: call goto() first")
        self.pending = ("save", self.state, {**self.data, **data, "_conv": self.conversation,
                                             "_cmd": self._current_command(), "_chat": self.chat})

    def end(self) -> None:
        """Leave the conversation (back to IDLE) and drop its temp data."""
        self.pending = ("clear", None, {})

    def _current_command(self) -> str | None:
        if self.pending is not None:
            return self.pending[2].get("_cmd")
        return (self._load().data or {}).get("_cmd")


class _Sending:
    """Outbox helpers shared by update and job contexts."""

    app: Application
    outbox: list[Outgoing]

    def _send(self, method: str, **params: Any) -> None:
        self.outbox.append(Outgoing(method, params))

    def _button_owner(self, chat_id: int) -> int | None:
        """Whose buttons a message to ``chat_id`` carries: a private chat's user (ids of groups are negative)."""
        return chat_id if isinstance(chat_id, int) and chat_id > 0 else None

    def _markup(self, buttons: list[list[Button]] | None, chat_id: int) -> types.InlineKeyboardMarkup | None:
        def registered(data_class: type[CallbackData]) -> bool:
            route = self.app.routes.callbacks.get(data_class.__prefix__)
            return route is not None and route.data_class is data_class

        return keyboard(buttons, self._button_owner(chat_id), registered)

    def send_message(self, chat_id: int, text: str, buttons: list[list[Button]] | None = None,
                     parse_mode: str | None = None) -> None:
        self._send("send_message", chat_id=chat_id, text=text, reply_markup=self._markup(buttons, chat_id),
                   parse_mode=parse_mode)

    def send_invoice(self, chat_id: int, *, title: str, description: str, payload: str, amount: int,
                     label: str | None = None, currency: str = "XTR", provider_token: str = "",
                     **extra: Any) -> None:
        """Send an invoice with one price (queued like a reply). The defaults sell digital goods for
        Telegram Stars: currency ``XTR``, an empty provider token, ``amount`` in Stars."""
        self._send("send_invoice", chat_id=chat_id, title=title, description=description, invoice_payload=payload,
                   provider_token=provider_token, currency=currency,
                   prices=[types.LabeledPrice(label or title, amount)], **extra)

    def create_invoice_link(self, *, title: str, description: str, payload: str, amount: int,
                            label: str | None = None, currency: str = "XTR", provider_token: str = "",
                            **extra: Any) -> str:
        """An invoice link with one price, made *now* (the handler sends it on): for Stars
        subscriptions pass ``subscription_period=2592000``. Raises ``framework.SendError``."""
        return self.call_api("create_invoice_link", title=title, description=description, payload=payload,
                             provider_token=provider_token, currency=currency,
                             prices=[types.LabeledPrice(label or title, amount)], **extra)

    def call_api(self, method: str, **params: Any) -> Any:
        """Call the Bot API *now* and return its result (``create_invoice_link``,
        ``refund_star_payment``, ``get_star_transactions``...): for the calls whose answer the
        handler needs, and the ones that must happen even if the update later fails. Raises
        ``framework.SendError`` when Telegram refuses (``.description`` says why). Replies go
        through ``reply``, which waits for the commit."""
        return self.app.sender.call(method, **params)


class _AppService:
    """A context attribute that is the application's service of the same name (``ctx.users`` is ``app.users``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, context: Any, owner: type | None = None) -> Any:
        return self if context is None else getattr(context.app, self.name)


class _PluginScope(_Sending):
    """What update and job contexts share: the plugin's settings and texts, the clock, the services.

    The services are the application's instances (``docs/services.md``); a plugin reaches them
    here and never needs the application itself.
    """

    _plugin: str
    lang: str

    @property
    def plugin(self) -> str:
        """The plugin this context serves (its settings, catalog, cache and audit rows)."""
        return self._plugin

    @property
    def settings(self) -> dict[str, Any]:
        return self.app.plugin_settings(self._plugin)

    def now(self) -> dt.datetime:
        """The application's clock (aware UTC); the test kit moves it with ``bot.advance``."""
        return self.app.now()

    def t(self, key: str, *, lang: str | None = None, **params: Any) -> str:
        """Translate ``key`` from this plugin's catalog (``core.*`` from the core's) into ``lang``, by
        default the context's language (the user's in an update, the default language in a job)."""
        owner, key = ("core", key[5:]) if key.startswith("core.") else (self._plugin, key)
        return self.app.i18n.t(owner, key, lang or self.lang, **params)

    def tn(self, key: str, n: float, *, lang: str | None = None, **params: Any) -> str:
        """Plural-aware :meth:`t`: picks ``key.one``/``.few``/``.many``/``.other`` for ``n`` (``{n}`` is filled in)."""
        owner, key = ("core", key[5:]) if key.startswith("core.") else (self._plugin, key)
        return self.app.i18n.tn(owner, key, n, lang or self.lang, **params)

    # -- the services ----------------------------------------------------------
    @property
    def cache(self) -> Cache:
        """This plugin's own cache (its keys never collide with another plugin's)."""
        return self.app.plugin_cache(self._plugin)

    @property
    def audit(self) -> AuditTrail:
        """Audit rows written in this update's or job's transaction (rolled back with a failed change).

        ``ctx.audit(action, entity_type=None, entity_id=None, details=None)`` records the update's
        user; ``job.audit(action, user=row.user, ...)`` the user a job names; ``.pd(actor, target,
        action, details=None)`` an operation on someone's personal data.
        """
        return AuditTrail(self.app.audit, self._plugin, getattr(self, "user", None))

    def user_info(self, user: User) -> dict[str, dict[str, Any]]:
        """What each plugin reports about ``user`` through ``plugbot_user_info``, by plugin name
        (plugins that store nothing about them, or fail, are left out). For admin views."""
        return {name: facts for name, facts in self.app.plugins.call_each("plugbot_user_info", user=user) if facts}

    def user_data(self, user: User) -> dict[str, Any]:
        """``user``'s /mydata document: ``{"generated_at", "plugins": {name: data}}`` from every plugin's
        ``plugbot_export_user_data``. The caller records the export (``audit.pd(..., "export_data")``)."""
        document: dict[str, Any] = {"generated_at": self.now().isoformat(), "plugins": {}}
        for plugin, data in self.app.plugins.call_each("plugbot_export_user_data", isolate=False, user=user):
            if data is not None:
                document["plugins"][plugin] = data
        return document

    # The application's shared instances, under the names docs/services.md uses.
    users: UserService = _AppService()  # type: ignore[assignment]
    access: AccessControl = _AppService()  # type: ignore[assignment]
    ratelimiter: RateLimiter = _AppService()  # type: ignore[assignment]
    scheduler: Scheduler = _AppService()  # type: ignore[assignment]
    i18n: Translator = _AppService()  # type: ignore[assignment]
    llm: LLMService = _AppService()  # type: ignore[assignment]
    runtime: RuntimeSettings = _AppService()  # type: ignore[assignment]


class Context(_PluginScope):
    """Everything a handler needs about one update, and the ways to answer it."""

    def __init__(self, app: Application, update: types.Update, *, user: User, lang: str, plugin: str = "core"):
        self.app = app
        self.update = update
        self.origin: Origin = origin(update)
        self.message: types.Message | None = update.message or update.edited_message
        self.callback: types.CallbackQuery | None = update.callback_query
        self.user = user
        self.lang = lang
        self.outbox: list[Outgoing] = []
        self.callback_answered = False
        self.handlers_run = 0  # handlers called on this update so far (the pipeline's savepoint choice)
        self.commit_callbacks: list[Callable[[], None]] = []  # see after_commit()
        self.command: str | None = None
        self.args: str = ""
        self.restricted = False  # the access gate sets it: an active "restrict" (see framework.access)
        self.refused: str | None = None  # "rate_limit" when the incoming rate limit turned the update away
        self.error: BaseException | None = None  # the first handler failure of this update, for observers
        self.callback_data: Any = None  # the pressed button's parsed CallbackData, set before its handler runs
        # When the pipeline began this update (after its exactly-once claim): its duration, for /metrics.
        self.started = time.perf_counter()
        self._plugin = plugin
        self.session = SessionView(app, user.telegram_id, plugin, self.chat_id)

    # -- who and where ---------------------------------------------------
    def for_plugin(self, plugin: str) -> Context:
        """The same update seen by ``plugin`` (its settings, catalog and session)."""
        self._plugin = plugin
        pending = self.session.pending
        loaded = self.session._loaded
        self.session = SessionView(self.app, self.user.telegram_id, plugin, self.chat_id)
        self.session._loaded = loaded
        if pending is not None and pending[0] == "clear":
            self.session.pending = pending
        return self

    @property
    def telegram_id(self) -> int:
        return self.user.telegram_id

    @property
    def chat(self) -> types.Chat | None:
        """The chat the update happened in (None for a payment query or a button under an inline message)."""
        return self.origin.chat

    @property
    def chat_id(self) -> int:
        """Where replies go: the update's chat, else the user's private chat."""
        chat_id = self.origin.chat_id
        return chat_id if isinstance(chat_id, int) else self.user.telegram_id

    @property
    def chat_type(self) -> str:
        chat = self.chat
        return chat.type if chat is not None else "private"

    @property
    def thread_id(self) -> int | None:
        """The forum topic the update belongs to (``message_thread_id``), None outside a topic.

        Replies (``reply``, ``send_photo``, ``send_document``) go to this topic.
        """
        message = self.message if self.message is not None else getattr(self.callback, "message", None)
        if message is None or not getattr(message, "is_topic_message", False):
            return None
        thread = getattr(message, "message_thread_id", None)
        return thread if isinstance(thread, int) else None

    @property
    def text(self) -> str:
        if self.message is None:
            return ""
        return self.message.text or self.message.caption or ""

    @property
    def data(self) -> str | None:
        return self.callback.data if self.callback is not None else None

    @property
    def refunded_payment(self) -> dict[str, Any] | None:
        """A ``refunded_payment`` message's payment, as Telegram sent it (``telegram_payment_charge_id``,
        ``total_amount``, ``invoice_payload``...), read from the raw message: pyTelegramBotAPI sets no
        content type for it."""
        raw = getattr(self.message, "json", None) if self.message is not None else None
        payment = raw.get("refunded_payment") if isinstance(raw, dict) else None
        return payment if isinstance(payment, dict) else None

    def answer_pre_checkout(self, ok: bool, error: str | None = None) -> None:
        """Answer the pre-checkout query of this update: ``ok=False`` with ``error``, the reason the
        user reads. Telegram cancels the payment when no answer comes within 10 seconds."""
        query = self.update.pre_checkout_query
        if query is None:
            raise RuntimeError("answer_pre_checkout: this update is not a pre-checkout query")
        self._send("answer_pre_checkout_query", pre_checkout_query_id=query.id, ok=ok,
                   error_message=None if ok else error)

    # -- services ------------------------------------------------------------
    def can(self, permission: str) -> bool:
        return self.app.access.can(self.user, permission)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this update's changes are committed (never if they are rolled back).

        For work that must not see, or be seen before, the update's own uncommitted rows: dropping
        a cache entry a parallel update of the same user could otherwise refill with the old
        committed data while this transaction is still open. Exceptions are logged, not raised.
        """
        self.commit_callbacks.append(callback)

    def chat_status(self, telegram_id: int | None = None) -> str | None:
        """Telegram's word for a user's standing in this chat, asked now (``getChatMember``):
        ``creator``, ``administrator``, ``member``, ``restricted``, ``left`` or ``kicked``; the
        sender by default. None when Telegram could not tell (the bot is not in the chat, the
        network failed): treat that as "not allowed"."""
        from .sender import SendError

        try:
            member = self.app.sender.call("get_chat_member", chat_id=self.chat_id,
                                          user_id=telegram_id if telegram_id is not None else self.telegram_id)
        except SendError:
            return None
        status = getattr(member, "status", None)
        return status if isinstance(status, str) else None

    def member_count(self) -> int | None:
        """How many members this chat has, asked of Telegram now (``getChatMemberCount``); None
        when Telegram could not tell."""
        from .sender import SendError

        try:
            count = self.app.sender.call("get_chat_member_count", chat_id=self.chat_id)
        except SendError:
            return None
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def is_chat_admin(self, telegram_id: int | None = None) -> bool:
        """Is the user (the sender by default) an administrator or the creator of this chat, by
        Telegram's word now? Always True in a private chat, which is the user's own."""
        if self.chat_type == "private":
            return True
        return self.chat_status(telegram_id) in ("creator", "administrator")

    # -- answering -------------------------------------------------------------
    def _button_owner(self, chat_id: int) -> int | None:
        """Buttons of an answer belong to the user who sent the update, in a group too."""
        return self.user.telegram_id

    def reply(self, text: str, buttons: Any = None, parse_mode: str | None = None) -> None:
        """Send ``text`` to the chat (and forum topic) this update came from (split if longer than 4,096)."""
        self._send("send_message", chat_id=self.chat_id, text=text, reply_markup=self._markup(buttons, self.chat_id),
                   parse_mode=parse_mode, message_thread_id=self.thread_id)

    def edit(self, text: str, buttons: Any = None, parse_mode: str | None = None) -> None:
        """Replace the message whose button was pressed; a plain reply otherwise."""
        if self.callback is None or self.callback.message is None:
            self.reply(text, buttons, parse_mode)
            return
        self._send("edit_message_text", text=text, chat_id=self.chat_id,
                   message_id=self.callback.message.message_id,
                   reply_markup=self._markup(buttons, self.chat_id),
                   parse_mode=parse_mode)

    def answer(self, text: str | None = None, alert: bool = False) -> None:
        """Answer the pressed button (the small toast Telegram shows)."""
        if self.callback is None or self.callback_answered:
            return
        self.callback_answered = True
        self._send("answer_callback_query", callback_query_id=self.callback.id, text=text, show_alert=alert)

    def send_photo(self, photo: bytes, caption: str | None = None) -> None:
        self._send("send_photo", chat_id=self.chat_id, photo=photo, caption=caption,
                   message_thread_id=self.thread_id)

    def send_document(self, data: bytes, filename: str, caption: str | None = None) -> None:
        self._send("send_document", chat_id=self.chat_id, document=data, visible_file_name=filename,
                   caption=caption, message_thread_id=self.thread_id)


class JobContext(_PluginScope):
    """What a scheduled job receives: settings, clock, texts, the services, and a way to message users.

    Messages are queued and sent once the job's transaction committed. ``t`` and ``tn`` speak the
    default language unless given ``lang``; ``notify`` speaks the user's own (their /language choice).
    """

    def __init__(self, app: Application, plugin: str):
        self.app = app
        self._plugin = plugin
        self.lang: str = app.config["default_language"]
        self.outbox: list[Outgoing] = []
        self.commit_callbacks: list[Callable[[], None]] = []  # see after_commit()
        self._languages: dict[int, str] = {}
        # The time the trigger scheduled this run for (UTC), the same in every process; None for a
        # run started by hand (/job run). A job that must not do a tick's work twice keys it by this.
        self.scheduled_for: dt.datetime | None = None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the job's changes are committed (never if they are rolled back),
        as ``ctx.after_commit`` does for an update.

        For dropping a cache entry the job's own writes make stale: dropped before the commit, an
        update reading in that instant would cache the old committed value again. Exceptions are
        logged, not raised.
        """
        self.commit_callbacks.append(callback)

    def _run_commit_callbacks(self) -> None:
        """Called by the job runner once the job's transaction committed."""
        for callback in self.commit_callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - the job is committed; its messages must still go
                log.exception("after-commit callback %r of a job of %s failed", callback, self._plugin)
        self.commit_callbacks.clear()

    def language_of(self, user: User) -> str:
        """The language to write to ``user`` in: their /language choice, else Telegram's, else the default."""
        if user.id not in self._languages:
            self._languages[user.id] = self.app.users.language_of(user)
        return self._languages[user.id]

    def notify(self, user: User, key: str, *, buttons: list[list[Button]] | None = None, **params: Any) -> None:
        """Send ``key`` of this plugin's catalog (``core.*`` of the core's), in ``user``'s language, to
        their private chat, once the job's transaction committed.

        Button labels are the caller's: translate them with ``job.t(label, lang=job.language_of(user))``.
        Nothing is sent to a user who muted notifications (``user.notifications_enabled``), nor to one
        whose ``user.status`` is not ``active`` (banned, blocked the bot, erased); to answer a user,
        reply in the update.
        """
        if isinstance(user, (int, str)) or not hasattr(user, "telegram_id") or not isinstance(key, str):
            raise TypeError("job.notify(user, key, *, buttons=None, **params) takes the user's User row and a key "
                            f"of the plugin's catalog (it translates in the user's language), got {user!r}, {key!r}")
        if not getattr(user, "notifications_enabled", True):
            return  # muted (users.notifications_enabled): a job's message is the bot speaking on its own
        if getattr(user, "status", "active") != "active":
            return  # banned, blocked the bot (Telegram would refuse it) or erased: users.status
        self.send_message(user.telegram_id, self.t(key, lang=self.language_of(user), **params), buttons)


@dataclass(frozen=True)
class SentMessage:
    """A message Telegram accepted from the bot, as ``plugbot_message_sent`` reports it."""

    method: str                        # the Bot API call: send_message, send_photo, edit_message_text...
    chat_id: int | str
    message_id: int
    text: str                          # the text or caption ("" for media without one)
    content_type: str                  # text, photo, document... as Telegram names a message's content
    date: dt.datetime | None = None    # when Telegram says it was sent (None if it did not say)
    reply_to_message_id: int | None = None
    thread_id: int | None = None       # the forum topic it went to
    edited: bool = False               # an edit of a message the bot sent before


def sent_message(method: str, params: dict[str, Any], result: Any) -> SentMessage | None:
    """What a successful call sent, or None when Telegram's answer names no message."""
    message_id = getattr(result, "message_id", None)
    if not isinstance(message_id, int):
        message_id = params.get("message_id")
    chat_id = params.get("chat_id")
    if not isinstance(message_id, int) or chat_id is None:
        return None
    if method.startswith("send_"):
        content_type = method[len("send_"):]
    else:
        content_type = getattr(result, "content_type", None) or "text"
    reply = params.get("reply_to_message_id")
    reply_parameters = params.get("reply_parameters")
    if reply is None and reply_parameters is not None:
        reply = getattr(reply_parameters, "message_id", None)
    stamp = getattr(result, "date", None)
    date = dt.datetime.fromtimestamp(stamp, dt.UTC) if isinstance(stamp, int) else None
    text = params.get("text", params.get("caption")) or ""
    return SentMessage(method, chat_id, message_id, text, content_type, date, reply,
                       params.get("message_thread_id"), edited=method.startswith("edit_"))
