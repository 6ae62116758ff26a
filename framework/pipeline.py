"""The update pipeline, one update at a time on a worker thread:

    queue row deleted → exactly-once guard → user upsert → access control → incoming rate limit
    → session → plugin middleware → plugin handler → outbox row → commit
    → save session → send replies, mark them sent → update observers

Everything an update writes (including its audit rows, the update-id marker,
the deletion of its ``incoming_updates`` row — ``framework.update_queue`` — and
its replies, in the outbox: ``framework.outbox``) is one transaction. A handler that raises has its writes rolled back,
its replies dropped, and the user gets a short localized apology; the update
is still marked processed so a redelivery does not run it again.

Most updates run exactly one handler, so the first handler runs directly in
the update's transaction: when it raises, the whole transaction is rolled
back and a short second one marks the update processed and records the
failure. Only a handler that runs after another one (text handlers that
passed, fan-out to several plugins) gets a savepoint, so that its failure
leaves the earlier handlers' work in place. A SAVEPOINT and RELEASE round
trip per update saved is a third of what a plain update costs the database.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from telebot import types

from . import statements
from .arguments import BadArgument
from .arguments import parse as parse_arguments
from .arguments import usage as usage_line
from .callbacks import CallbackDataError
from .context import Context
from .db import DB_CONNECTION_ERRORS, connection_scope, database
from .handling import bound, handled
from .logs import log_context
from .models import IncomingUpdate, ProcessedUpdate
from .origin import malformed, origin
from .redisconn import ServiceUnavailable

if TYPE_CHECKING:
    from .app import Application
    from .registry import Command

log = logging.getLogger("plugbot.pipeline")

# A lost database connection (framework.db.DB_CONNECTION_ERRORS) rolls the update's transaction
# back before anything was sent, so the whole update is run again on a fresh pooled connection
# instead of being dropped (or blamed on the plugin).
DB_RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # ~16 s: a restart, not an outage

# The kinds of update plugbot's handlers serve. Edits and member changes are served only when an
# observer asked for them (``register.observer``); channel posts and inline queries are ignored.
SERVED = frozenset({"message", "callback_query", "pre_checkout_query"})
HELP_HINT_SECONDS = 300  # private text no plugin takes gets the /help hint at most this often per user

CONTENT_TYPES = ("photo", "document", "voice", "video", "audio", "sticker", "animation", "video_note",
                 "contact", "location", "venue", "poll", "dice")


class _HandlerFailed(Exception):
    """The update's first handler raised: roll the whole update back, then record the failure."""

    def __init__(self, ctx: Context, plugin: str, handler: str, error: Exception) -> None:
        super().__init__(f"{plugin}.{handler}: {error!r}")
        self.ctx, self.plugin, self.handler, self.error = ctx, plugin, handler, error


class Pipeline:
    def __init__(self, app: Application):
        self.app = app

    # -- entry -------------------------------------------------------------------
    def process(self, raw: dict[str, Any], queued: bool = False) -> bool:
        """Run one raw Telegram update through the whole pipeline; never raises.

        ``queued``: the update comes from ``incoming_updates`` (framework.update_queue); its row
        is deleted in the update's transaction, or on its own when the update is ignored or
        fails for good. Returns False only when the database failed through every retry: the
        row is then still stored, and taken again.
        """
        update = self._parse(raw)
        if update is None:
            return self._dequeue(raw, queued)
        source = origin(update)
        tg_user, chat_id = source.sender, source.chat_id
        served = source.kind in SERVED or source.kind in self.app.routes.observed()
        if not served or tg_user is None or chat_id is None or getattr(tg_user, "is_bot", False):
            log.debug("update %s ignored: no human sender, no chat, or an unsupported type", update.update_id)
            return self._dequeue(raw, queued)
        with log_context(update_id=update.update_id, chat_id=chat_id, user_id=tg_user.id):
            for attempt, delay in enumerate((*DB_RETRY_DELAYS, None)):
                try:
                    self._process(update, tg_user, queued)
                except ServiceUnavailable as exc:
                    log.warning("update %s: a service is unavailable: %s", update.update_id, exc)
                    self._apologise(chat_id, tg_user, "core.unavailable")
                    return self._dequeue(raw, queued)
                except DB_CONNECTION_ERRORS as exc:
                    # The rolled-back transaction may have created the user row the cache now names.
                    self._forget_user(tg_user)
                    if delay is not None and not self.app.stopping.is_set():
                        log.warning("update %s: database error (%s: %s); retry %d in %.2fs", update.update_id,
                                    exc.__class__.__name__, str(exc).strip()[:200], attempt + 1, delay)
                        time.sleep(delay)
                        continue
                    log.exception("update %s failed in the pipeline", update.update_id)
                    self._apologise(chat_id, tg_user, "core.error")
                    return False
                except Exception:
                    self._forget_user(tg_user)
                    log.exception("update %s failed in the pipeline", update.update_id)
                    self._apologise(chat_id, tg_user, "core.error")
                    return self._dequeue(raw, queued)
                break
        return True

    def _dequeue(self, raw: dict[str, Any], queued: bool) -> bool:
        """Delete the stored row of an update that ends without a transaction of its own
        (ignored, or failed for good). A database that refuses leaves it stored: False."""
        if not queued:
            return True
        try:
            with connection_scope():
                IncomingUpdate.delete().where(IncomingUpdate.update_id == raw.get("update_id")).execute()
        except DB_CONNECTION_ERRORS:
            log.warning("update %s: its stored row could not be deleted; it is taken again", raw.get("update_id"))
            return False
        return True

    def _parse(self, raw: dict[str, Any]) -> types.Update | None:
        problem = malformed(raw)
        if problem is not None:
            log.warning("malformed update ignored: %s", problem)
            return None
        _replace_unstorable(raw)
        try:
            update = types.Update.de_json(raw)
        except Exception as exc:  # noqa: BLE001 - malformed input must never crash a worker
            log.warning("malformed update %s ignored: %s", raw.get("update_id"), exc)
            return None
        field = _mistyped_field(update)
        if field is not None:  # de_json copies fields as given; handlers rely on their types
            log.warning("malformed update %s ignored: %s is not a string", raw.get("update_id"), field)
            return None
        return update

    def _process(self, update: types.Update, tg_user: types.User, queued: bool = False) -> None:
        with connection_scope():
            self.app.runtime.refresh()  # what admins switched in another process (at most every few seconds)
            try:
                with database.atomic():
                    ctx = self._begin(update, tg_user, queued)
                    if ctx is None:
                        return
                    if self._admitted(ctx):
                        self._handle(ctx)
                    row = self.app.outbox.store(ctx.outbox)
            except _HandlerFailed as failed:
                self._forget_user(tg_user)  # the profile may name a user row that was rolled back
                with database.atomic():
                    fresh = self._begin(update, tg_user, queued)
                    if fresh is None:
                        return
                    ctx = failed.ctx  # keeps the command, plugin and answers the hooks saw
                    ctx.commit_callbacks.clear()  # what they were to follow was rolled back
                    ctx.user, ctx.lang = fresh.user, fresh.lang
                    with log_context(plugin=failed.plugin, handler=failed.handler):
                        self._handler_failed(ctx, failed.plugin, failed.handler, failed.error)
                    row = self.app.outbox.store(ctx.outbox)
            self._after_commit(ctx, row)
            self._observe(ctx)

    def _begin(self, update: types.Update, tg_user: types.User, queued: bool = False) -> Context | None:
        """Take the update out of the queue, claim it and know its user: the start of every
        update's transaction (the "already processed" one too, so a redelivery leaves no row)."""
        if queued:
            statements.execute("DELETE FROM incoming_updates WHERE update_id = %s", (update.update_id,))
        if not self._claim(update.update_id):
            log.info("update %s already processed: skipped", update.update_id)
            return None
        # A pre-checkout query must not wait for the row lock of the user's running updates.
        user, lang = self.app.users.upsert(tg_user, touch=update.pre_checkout_query is None)
        return Context(self.app, update, user=user, lang=lang)

    def _claim(self, update_id: int) -> bool:
        inserted = statements.insert(ProcessedUpdate, {"update_id": update_id, "processed_at": self.app.now()},
                                     ignore_conflict=True)
        return bool(inserted)

    # -- gates ----------------------------------------------------------------------
    def _admitted(self, ctx: Context) -> bool:
        payment = _payment_kind(ctx)
        if payment == "settled":
            # Telegram already moved the money: the plugin must hear of it whatever the gates say.
            return True
        verdict = self.app.access.check(ctx)
        if not verdict.allowed:
            if verdict.notice:
                ctx.reply(verdict.notice, buttons=verdict.buttons)
            ctx.answer()
            return False
        self._run_observers(ctx)
        if self.app.access.is_admin(ctx.user):
            return True
        ctx.restricted = self.app.access.is_restricted(ctx.user)
        if payment is not None:
            return True  # an unanswered pre-checkout query cancels the payment: never rate-limited
        if ctx.restricted:
            limit, notice = self.app.config["access"]["restricted_messages_per_minute"], "core.restricted_slow_down"
        else:
            limit, notice = self.app.config["ratelimit"]["messages_per_minute"], "core.ratelimited"
        decision = self.app.ratelimiter.hit(ctx.telegram_id, "messages", limit, 60)
        if not decision.allowed:
            ctx.refused = "rate_limit"
            if decision.notify:
                ctx.reply(ctx.t(notice, seconds=decision.retry_after, limit=limit))
            ctx.answer()
            return False
        return True

    # -- routing ----------------------------------------------------------------------
    def _handle(self, ctx: Context) -> None:
        update = ctx.update
        if update.callback_query is not None:
            self._on_callback(ctx)
        elif update.pre_checkout_query is not None:
            self._fan_out(ctx, self.app.routes.pre_checkout)
        elif update.message is not None:  # an edit or a member change reaches the observers only
            self._on_message(ctx)
        ctx.answer()

    def _run_observers(self, ctx: Context) -> None:
        """Show the update to every observer of its kind, each under its own savepoint.

        A failing observer loses its own writes and replies and nothing else: it does not count
        against any plugin's circuit breaker, and the user gets no apology for it.
        """
        kind = ctx.origin.kind
        observers = [o for o in self.app.routes.observers
                     if kind in o.updates and not self.app.plugins.is_paused(o.plugin)]
        if not observers:
            return
        owner = ctx.plugin
        for observer in observers:
            name = getattr(observer.fn, "__qualname__", repr(observer.fn))
            replies, callbacks = len(ctx.outbox), len(ctx.commit_callbacks)
            ctx.for_plugin(observer.plugin)
            with log_context(plugin=observer.plugin, handler=name):
                try:
                    with database.atomic():
                        observer.fn(ctx)
                except Exception as exc:
                    if _connection_lost(exc):
                        raise  # the whole update is retried (see process)
                    del ctx.outbox[replies:]
                    del ctx.commit_callbacks[callbacks:]
                    log.error("observer %s of plugin %s failed on update %s", name, observer.plugin,
                              ctx.update.update_id, exc_info=exc)
        ctx.for_plugin(owner)
        # What the observers wrote must outlive a failing handler: the handler gets a savepoint.
        ctx.handlers_run += 1

    def _on_message(self, ctx: Context) -> None:
        message = ctx.message
        if message.successful_payment is not None:
            self._fan_out(ctx, self.app.routes.successful_payment)
            return
        if ctx.refunded_payment is not None:
            self._fan_out(ctx, self.app.routes.refunded_payment)
            return
        if message.content_type != "text":
            if self._first_to_handle(ctx, self.app.routes.content.get(message.content_type, [])):
                return
            if not message.caption:
                return
        command = self._command_of(ctx)
        if command is not None:
            self._on_command(ctx, *command)
            return
        if ctx.text:
            self._on_text(ctx)

    def _command_of(self, ctx: Context) -> tuple[str, str] | None:
        """``/name@bot args`` → (name, args); None for plain text or another bot's command.

        The name ends at the first whitespace of any kind: ``/add\n12.50`` is /add with ``12.50``.
        """
        text = ctx.message.text or ""
        if not text.startswith("/") or len(text) < 2:
            return None
        parts = text[1:].split(None, 1)
        if not parts:
            return None
        name, _, target = parts[0].partition("@")
        if target and self.app.bot_username and target.lower() != self.app.bot_username.lower():
            return None
        return name.lower(), (parts[1] if len(parts) > 1 else "").strip()

    def _on_command(self, ctx: Context, name: str, args: str) -> None:
        ctx.command, ctx.args = name, args
        command = self.app.routes.commands.get(name)
        # A command switched off, or an admin's command sent by someone who is no admin, answers
        # exactly as a command that does not exist: nothing tells a user what is there.
        if command is None or self.app.plugins.is_off(command.plugin) or (
                command.permission and not self.app.access.is_admin(ctx.user)):
            if ctx.chat_type == "private":
                ctx.reply(ctx.t("core.unknown_command", command=name[:32]))
            return
        ctx.for_plugin(command.plugin)
        if self.app.plugins.is_paused(command.plugin):
            ctx.reply(ctx.t("core.plugin_paused"))
            return
        if self.app.plugins.holds_off(command.plugin, ctx.telegram_id):
            return  # told once, when their failures started holding them off (see _handler_failed)
        if command.permission and not self.app.access.can(ctx.user, command.permission):
            ctx.reply(ctx.t("core.not_admin"))
            return
        if ctx.restricted and not command.allow_restricted:
            ctx.reply(ctx.t("core.restricted_command", command=name))
            return
        if not self._command_rate_ok(ctx, command):
            return
        self._run(ctx, command.plugin, _with_arguments(command))

    def _command_rate_ok(self, ctx: Context, command: Command) -> bool:
        if command.rate_limit is None or self.app.access.is_admin(ctx.user):
            return True
        from .ratelimit import parse_rate

        limit, window = parse_rate(command.rate_limit)
        decision = self.app.ratelimiter.hit(ctx.telegram_id, f"cmd:{command.name}", limit, window)
        if not decision.allowed and decision.notify:
            ctx.reply(ctx.t("core.ratelimited", seconds=decision.retry_after))
        return decision.allowed

    def _on_text(self, ctx: Context) -> None:
        owner = ctx.session.raw_owner
        if owner is not None and ctx.session.chat not in (None, ctx.chat_id):
            pass  # a conversation of another chat (say, a private /add) must not eat group chatter
        elif owner is not None and self._serves(ctx, owner):
            ctx.for_plugin(owner)
            conv = self.app.conversation_of(owner, ctx.session.conversation)
            if conv is not None and handled(self._run(ctx, owner, conv.handle)):
                return
        elif owner is None and ctx.chat_type == "private":
            expired = ctx.session.expired  # loaded with the state: no extra round trip
            if expired is not None:
                self.app.sessions.forget_expired(ctx.telegram_id)
                ctx.reply(ctx.t("core.timed_out", command=expired[1]))
                return
        private = ctx.chat_type == "private"
        mine = owner is not None and ctx.session.chat in (None, ctx.chat_id)
        paused = owner if mine and self.app.plugins.is_paused(owner) else None  # a conversation of a paused plugin
        if not self._first_to_handle(ctx, [h for h in self.app.routes.sorted_texts() if private or h.groups],
                                     paused) and private:
            self._hint_help(ctx)

    def _hint_help(self, ctx: Context) -> None:
        """Private text that no plugin took: silence is the worst answer, so point at /help, at
        most once per :data:`HELP_HINT_SECONDS` per user (chatting on is not answered each time)."""
        if self.app.ratelimiter.hit(ctx.telegram_id, "core:help_hint", 1, HELP_HINT_SECONDS).allowed:
            ctx.reply(ctx.t("core.help_hint"))

    def _first_to_handle(self, ctx: Context, routes: list[Any], paused: str | None = None) -> bool:
        """Offer the update to each route in turn until one handles it (does not return SKIP).

        A paused plugin never sees it; when no other plugin took it, the user is told that
        something is paused rather than met with silence (in a group, once per pause, since most
        group messages were never meant for the plugin)."""
        for route in routes:
            if self.app.plugins.is_off(route.plugin):
                continue
            if self.app.plugins.is_paused(route.plugin):
                paused = paused or route.plugin
            elif not self.app.plugins.holds_off(route.plugin, ctx.telegram_id):
                ctx.for_plugin(route.plugin)
                if handled(self._run(ctx, route.plugin, bound(route.fn))):
                    return True
        if paused is not None and (ctx.chat_type == "private"
                                   or self.app.plugins.first_paused_notice(paused, ctx.telegram_id)):
            ctx.reply(ctx.t("core.plugin_paused"))
            return True  # answered: the user knows why nothing else happened
        return False

    def _serves(self, ctx: Context, plugin: str) -> bool:
        """Does ``plugin`` run for this update: switched on, not paused, not holding this user off?"""
        return self.app.plugins.serving(plugin) and not self.app.plugins.holds_off(plugin, ctx.telegram_id)

    def _on_callback(self, ctx: Context) -> None:
        """A press reaches its handler only as valid data of a registered class, pressed by its owner."""
        data = ctx.data or ""
        route = self.app.routes.callback_for(data) if data else None
        if route is None or self.app.plugins.is_off(route.plugin):
            ctx.answer(ctx.t("core.stale_button"))
            return
        if self.app.plugins.is_paused(route.plugin):
            ctx.answer(ctx.t("core.plugin_paused"))
            return
        if self.app.plugins.holds_off(route.plugin, ctx.telegram_id):
            ctx.answer(ctx.t("core.plugin_held_short"))
            return
        try:
            owner, value = route.data_class.unpack(data)
        except CallbackDataError as exc:
            log.info("button data refused: %s", exc)
            ctx.answer(ctx.t("core.stale_button"))
            return
        if owner is not None and owner != ctx.telegram_id:
            ctx.answer(ctx.t("core.not_your_button"))
            return
        ctx.callback_data = value
        ctx.for_plugin(route.plugin)
        if not handled(self._run(ctx, route.plugin, bound(route.fn, value))):
            ctx.answer(ctx.t("core.stale_button"))

    def _fan_out(self, ctx: Context, routes: list[Any]) -> None:
        """Payments: every plugin's handler sees the update (each checks the payload is its own)."""
        for route in routes:
            if self.app.plugins.serving(route.plugin):
                ctx.for_plugin(route.plugin)
                self._run(ctx, route.plugin, bound(route.fn))

    # -- running a handler -------------------------------------------------------------
    def _run(self, ctx: Context, plugin: str, fn: Any) -> Any:
        """Call one handler, isolating and counting its failure.

        Returns what the handler returned (``SKIP`` when it passed the update on,
        see ``framework.handling``), or True when it failed or a middleware stopped it.
        The first handler of an update runs in the update's own transaction
        (a failure rolls it all back, see ``_process``); later ones get a savepoint.
        """
        handler = getattr(fn, "__qualname__", repr(fn))
        first = ctx.handlers_run == 0
        ctx.handlers_run += 1
        callbacks = len(ctx.commit_callbacks)
        with log_context(plugin=plugin, handler=handler):
            try:
                with contextlib.nullcontext() if first else database.atomic():
                    result = self._through_middleware(ctx, plugin, fn)
            except ServiceUnavailable:
                raise
            except Exception as exc:
                if _connection_lost(exc):
                    raise  # not the plugin's fault: the whole update is retried (see process)
                if first:
                    raise _HandlerFailed(ctx, plugin, handler, exc) from exc
                del ctx.commit_callbacks[callbacks:]  # its savepoint was rolled back
                self._handler_failed(ctx, plugin, handler, exc)
                return True
            return result

    def _through_middleware(self, ctx: Context, plugin: str, fn: Any) -> Any:
        """Call ``fn`` inside ``plugin``'s own middleware, outermost first.

        Returns what the handler returned, or True (handled) when a middleware did not call
        ``call_next``; what a middleware itself returns is not looked at, so wrapping a
        handler never changes whether it took the update. When the handler raises, the session
        changes it made are dropped with its writes; a middleware that catches the error may
        still change the session (end a conversation, say), and that change is kept.
        """
        chain = self.app.routes.middleware.get(plugin, ())
        session, pending = ctx.session, ctx.session.pending
        outcome: list[Any] = []

        def call(index: int) -> Any:
            if index < len(chain):
                return chain[index](ctx, lambda: call(index + 1))
            try:
                result = fn(ctx)
            except Exception:
                session.pending = pending
                raise
            outcome.append(result)
            return result

        call(0)
        return outcome[-1] if outcome else True

    def _handler_failed(self, ctx: Context, plugin: str, handler: str, exc: Exception) -> None:
        log.error("handler %s of plugin %s failed on update %s", handler, plugin, ctx.update.update_id,
                  exc_info=exc)
        if ctx.error is None:
            ctx.error = exc
        ctx.outbox.clear()
        ctx.callback_answered = False
        ctx.reply(ctx.t("core.error"))
        outcome = self.app.plugins.record_failure(plugin, f"{exc.__class__.__name__}: {exc}", ctx.telegram_id)
        if outcome.paused:
            self.app.save_plugin_states()
            error = f"{exc.__class__.__name__}: {exc}"[:300]
            if not self.app.plugins.status_changed(plugin, "paused", error):  # no plugin tells admins
                self.app.notify_admins(ctx.t("core.plugin_paused_admin", plugin=plugin, error=error))
        elif outcome.held:
            ctx.reply(ctx.t("core.plugin_held", minutes=max(1, round(outcome.seconds / 60))))

    # -- after the transaction -----------------------------------------------------------
    def _after_commit(self, ctx: Context, outbox_row: int | None) -> None:
        pending = ctx.session.pending
        if pending is not None:
            op, state, data = pending
            if op == "clear":
                self.app.sessions.clear(ctx.telegram_id)
            else:
                self.app.sessions.save(ctx.telegram_id, state, data, ctx.session.plugin,
                                       command=data.get("_cmd"))
        for callback in ctx.commit_callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - the update is committed; its replies must still go
                log.exception("after-commit callback %r failed", callback)
        self.app.outbox.send(outbox_row, ctx.outbox)

    def _observe(self, ctx: Context) -> None:
        """``plugbot_update_done``: every observer, once per update, after the commit and outside
        any transaction (an observer that writes opens its own, so the update pays nothing for
        observers that only count in memory)."""
        for name, impl in self.app.plugins.impls("plugbot_update_done"):
            if self.app.plugins.is_off(name):
                continue
            try:
                self.app.plugins.call_impl(impl, ctx=ctx, error=ctx.error)
            except Exception:  # noqa: BLE001 - an observer must not cost the update or another observer
                log.exception("plugin %s failed observing update %s", name, ctx.update.update_id,
                              extra={"plugin": name})

    def _forget_user(self, tg_user: types.User) -> None:
        try:
            self.app.users.invalidate(tg_user.id)
        except Exception:  # noqa: BLE001 - best effort; the cache entry expires anyway
            log.debug("could not drop the cached profile of %s", tg_user.id, exc_info=True)

    def _apologise(self, chat_id: int | None, tg_user: types.User, key: str) -> None:
        lang = (tg_user.language_code or self.app.config["default_language"]).split("-")[0]
        try:
            self.app.sender.send_message(chat_id or tg_user.id, self.app.i18n.t("core", key[5:], lang))
        except Exception:  # noqa: BLE001 - nothing more can be done for this update
            log.exception("could not tell the user about the failure")


def _with_arguments(command: Command) -> Any:
    """The command's handler, parsing its declared arguments first: bad input gets the usage line
    in the user's language and never reaches the handler."""
    if command.args is None:
        return bound(command.fn)

    def parse_then_call(ctx: Context) -> Any:
        try:
            values = parse_arguments(ctx, command.args, ctx.args)
        except BadArgument as problem:
            ctx.reply(problem.message + "\n" + usage_line(ctx, command.plugin, command.name, command.args,
                                                          command.help, command.usage))
            return None
        return command.fn(ctx, **values)

    return bound(functools.update_wrapper(parse_then_call, command.fn))


def _payment_kind(ctx: Context) -> str | None:
    """``"query"`` for a pre-checkout query, ``"settled"`` for a successful or refunded payment, else None."""
    if ctx.update.pre_checkout_query is not None:
        return "query"
    message = ctx.message
    if message is not None and (message.successful_payment is not None or ctx.refunded_payment is not None):
        return "settled"
    return None


def _mistyped_field(update: types.Update) -> str | None:
    """The first text field that is neither a string nor absent (only a forged update has one)."""
    for kind in ("message", "edited_message"):
        message = getattr(update, kind)
        for name in ("text", "caption"):
            if message is not None and not isinstance(getattr(message, name, None), (str, type(None))):
                return f"{kind}.{name}"
    query = update.callback_query
    if query is not None and not isinstance(query.data, (str, type(None))):
        return "callback_query.data"
    return None


# What no database column can store: NUL (PostgreSQL text) and lone UTF-16 surrogates (no UTF-8 form;
# JSON can carry the escape \ud800, and a well-formed pair is already one character once parsed).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _replace_unstorable(raw: dict[str, Any]) -> None:
    """NUL and lone surrogates → U+FFFD in every string of the update (texts, button data, names,
    titles), in place: a handler saving one would fail, and a user could repeat that at will.
    One code unit for one, so entity offsets stay right."""
    stack: list[Any] = [raw]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, str):
                if _UNSTORABLE.search(value):
                    node[key] = _UNSTORABLE.sub("\ufffd", value)
            elif isinstance(value, (dict, list)):
                stack.append(value)


def _connection_lost(exc: BaseException) -> bool:
    """Did ``exc`` come from a dead database connection (rather than from a bad query)?"""
    if not isinstance(exc, DB_CONNECTION_ERRORS):
        return False
    try:
        return not database.is_connection_usable()
    except Exception:  # noqa: BLE001 - a connection that cannot even be asked is lost
        return True
