"""The application: wires config, plugins, database, services, scheduler and transports.

:func:`create_app` is the factory; nothing here happens at import time, so a process (a test
run, say) can build as many applications as it needs, one after another: only one is *live* at
a time. The database binding (``framework.database``, which every model uses) and
pyTelegramBotAPI's ``apihelper.API_URL`` and ``CUSTOM_REQUEST_SENDER`` are process-wide, so a
second live application would send its queries to the other's database and its Bot API calls to
the other's server. Building one while another is live raises :class:`ApplicationLiveError`;
``stop()`` (or leaving a ``with create_app(...) as app:`` block) ends an application's life.
"""
from __future__ import annotations

import logging
import operator
import threading
from collections.abc import Callable
from functools import reduce
from typing import Any
from urllib.parse import urlparse

from . import db as dbmod
from .access import AccessControl
from .audit import AuditService
from .cache import Cache, lookup_totals, make_cache_backend
from .config import ConfigError, load_config
from .context import JobContext, Outgoing, sent_message
from .conversations import Conversation
from .counters import SharedCounters
from .i18n import Translator
from .leader import LeaderElector, holder_name, make_lease
from .llm import LLMService
from .migrations import migrate, rollback, status
from .models import AppSettings
from .outbox import Outbox
from .pipeline import Pipeline
from .plugin import Plugin
from .plugins import LoadedPlugin, PluginManager
from .ratelimit import DbRateBackend, RateLimiter, make_rate_backend
from .redaction import error_text, redact, register_config
from .redisconn import connect_redis
from .registry import CliRegistry, Collector, HandlerRegistry, JobRegistry, RegistrationError, Routes
from .runtime import RuntimeSettings
from .scheduler import DbJobStatsStore, DbTickStore, Scheduler, current_fire_time
from .sender import Sender, SendError, TelebotApi
from .sessions import make_session_store
from .update_queue import UpdateQueue
from .users import UserService

log = logging.getLogger("plugbot.app")


class ApplicationLiveError(RuntimeError):
    """Another application is live in this process: stop it before building the next one."""


class _LiveSlot:
    """The one live application of this process (the module docstring says why there is one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._app: Application | None = None

    def claim(self, app: Application) -> None:
        with self._lock:
            if self._app is not None and self._app is not app:
                raise ApplicationLiveError(
                    f"another plugbot application is live in this process (database {self._app.database_name}); "
                    "stop() it, or build it with `with create_app(...) as app:`, before building a new one: the "
                    "database binding (framework.database) and telebot's API URL and request sender are "
                    "process-wide, so two live applications would write to each other's database")
            self._app = app

    def release(self, app: Application) -> None:
        with self._lock:
            if self._app is app:
                self._app = None


_LIVE = _LiveSlot()


def create_app(config: dict[str, Any] | str | None = None, *, api: Any = None,
               clock: Callable[[], Any] | None = None, overrides: dict[str, Any] | None = None) -> Application:
    """Build an application from a config dict or a YAML path (env overrides applied).

    One application is live in a process at a time: ``stop()`` it (or use ``with create_app(...)
    as app:``) before building the next, or this raises :class:`ApplicationLiveError`.
    """
    if not isinstance(config, dict):
        config = load_config(config, overrides=overrides)
    return Application(config, api=api, clock=clock)


class Application:
    """One bot: its plugins, database, services and transports, all on one clock (``clock``).

    Live from construction until :meth:`stop`; only one application is live in a process at a
    time (:class:`ApplicationLiveError`).
    """

    def __init__(self, config: dict[str, Any], *, api: Any = None, clock: Callable[[], Any] | None = None):
        self.config = config
        self.clock = clock or dbmod.utcnow
        self.bot_username: str | None = None
        self.stopping = threading.Event()
        self._started = False
        self._stopped = False
        _LIVE.claim(self)
        try:
            self._build(config, api)
        except BaseException:
            self._abandon()
            raise

    def _build(self, config: dict[str, Any], api: Any) -> None:
        token = config["telegram"]["token"]
        register_config(config)  # a config given as a dict did not go through load_config
        self.plugins = PluginManager(config)
        self.plugins.load()
        self.routes = Routes()
        self.db = dbmod.connect(config["database"]["url"], pool_size=config["database"]["pool_size"])
        dbmod.database.initialize(self.db)
        self._init_services()
        for loaded in self.plugins.plugins.values():
            if loaded.module is not None:
                loaded.handle = Plugin(self, loaded.name)
        if api is None:
            api = TelebotApi(token, config["telegram"]["api_url"]) if token else OfflineApi()
        self.api = api
        sender_cfg = config["sender"]
        self.sender = Sender(self.api, global_per_second=sender_cfg["global_per_second"] or None,
                             private_interval=sender_cfg["private_interval"] or None,
                             group_per_minute=sender_cfg["group_per_minute"] or None,
                             max_retries=sender_cfg["max_retries"],
                             # Several processes of one bot share Telegram's limits through Redis.
                             redis=self.redis, redis_prefix=config["redis"]["prefix"])
        self.sender.on_sent(self._message_sent)
        self.sender.failure_listeners.append(self._send_failed)
        # Through the attribute, so a sender replaced later (tests, console mode) is the one used.
        self.outbox = Outbox(lambda items: self.sender.deliver(items), self.clock)
        self.pipeline = Pipeline(self)
        # Every update is stored before it is acknowledged and taken by the workers of any
        # process, one chat at a time (framework.update_queue).
        queue_cfg = config["queue"]
        self.queue = UpdateQueue(self.pipeline.process, self.db, workers=config["workers"],
                                 max_attempts=queue_cfg["max_attempts"], max_backlog=queue_cfg["max_backlog"], stopping=self.stopping)
        self._migration_sources: list[tuple[str, str]] = []
        self._collect()

    def _abandon(self) -> None:
        """A constructor that failed half way gives back what it took, so the next application can live."""
        try:
            queue = getattr(self, "queue", None)
            if queue is not None:
                queue.stop()
            if getattr(self, "db", None) is not None:
                self._close_connections()
        finally:
            _LIVE.release(self)

    @property
    def database_name(self) -> str:
        """``database.url`` without credentials: for messages and logs."""
        parsed = urlparse(self.config["database"]["url"])
        host = f"{parsed.hostname}{f':{parsed.port}' if parsed.port else ''}" if parsed.hostname else ""
        return f"{parsed.scheme}://{host}{parsed.path}"

    def _init_services(self) -> None:
        """Build the services, each from what it uses, all of them on the application's clock: a
        test that moves it (``bot.advance``) sees sessions, windows, cache entries and bans expire."""
        config = self.config
        clock = self.clock

        def seconds() -> float:  # the key-value services count in epoch seconds
            return clock().timestamp()

        self.redis = connect_redis(config["redis"]["url"])
        prefix = config["redis"]["prefix"]
        sessions = config["sessions"]
        # The timeout notice must outlive the state; a long ttl alone must not trip over its default.
        self.sessions = make_session_store(self.redis, ttl=sessions["ttl"], prefix=prefix,
                                           marker_ttl=max(sessions["timeout_notice"], sessions["ttl"]), clock=seconds)
        backend = config["ratelimit"]["backend"]
        self.ratelimiter = RateLimiter(DbRateBackend(seconds) if backend == "db"
                                       else make_rate_backend(self.redis if backend in ("auto", "redis") else None,
                                                              prefix=prefix, clock=seconds))
        self._cache_backend = make_cache_backend(self.redis, prefix=prefix, clock=seconds)
        self._caches: dict[str, Cache] = {}
        # /botstats' numbers summed over every process (with Redis), flushed once a second.
        self.counters = SharedCounters(self.redis, prefix, clock=seconds)
        self.counters.track("cache", lambda: lookup_totals(self.caches().values()))
        self.i18n = Translator(default_language=config["default_language"])
        jobs = config["scheduler"]
        self.holder = holder_name()  # this process in the leader lease and the job ticks it claims
        lease = make_lease(jobs["leader"], redis=self.redis, prefix=prefix, db=self.db,
                           lease_seconds=jobs["lease_seconds"], holder=self.holder)
        self.leader = LeaderElector(lease, jobs["lease_seconds"])
        self.scheduler = Scheduler(timezone="UTC", clock=clock, leadership=self.leader)
        llm = config["llm"]
        self.llm = LLMService.from_env(timeout=llm["timeout"], retries=llm["retries"], cache_ttl=llm["cache_ttl"],
                                       clock=clock)
        self.audit = AuditService(self.clock)
        self.runtime = RuntimeSettings(clock=self.clock, audit=self.audit, plugins=self.plugins)
        self._switching = threading.Lock()
        self.runtime.listeners.append(self._apply_switches)
        self.users = UserService(self.cache("users"), i18n=self.i18n, audit=self.audit, clock=self.clock,
                                 admins=config["admins"], default_language=config["default_language"],
                                 consent_required=config["consent"]["required"],
                                 profile_ttl=config["cache"]["user_ttl"])
        self.users.on_unarchive = lambda user: self.plugins.call_each("plugbot_unarchive_user_data", user=user)
        self.access = AccessControl(self.cache("access"), clock=self.clock, admins=config["admins"],
                                    mode=config["access"]["mode"], consent_required=config["consent"]["required"],
                                    audit=self.audit, live_settings=self.runtime.settings)
        self.access.role_listeners.append(self._roles_changed)
        self.users.lift_expired_bans = lambda user: self.access.lift_expired_bans(user)

    # -- collecting what plugins register --------------------------------------------
    def _collect(self) -> None:
        """Each ``register_*`` hook, plugin by plugin in hook order (so a built-in's ``trylast``
        registration runs after every plugin's); a plugin that raises is taken out."""
        self._register_each("plugbot_register_models", lambda loaded: Collector(loaded.handle, loaded.models))
        self._register_each("plugbot_register_migrations",
                            lambda loaded: Collector(loaded.handle, loaded.migrations))
        self._register_each("plugbot_register_locales", lambda loaded: Collector(loaded.handle, loaded.locales))
        for name in self.plugins.order:
            for directory in self.plugins.plugins[name].locales:
                self.i18n.add_catalog(name, directory)
        self._register_each("plugbot_register_handlers",
                            lambda loaded: HandlerRegistry(self.routes, loaded.handle, builtin=loaded.builtin))
        self._register_each("plugbot_register_jobs", lambda loaded: JobRegistry(self.routes, loaded.handle))
        self._register_each("plugbot_register_cli", lambda loaded: CliRegistry(self.routes, loaded.handle))
        for name in self.plugins.order:
            self._migration_sources.extend((name, d) for d in self.plugins.plugins[name].migrations)

    def _register_each(self, hook: str, make_register: Callable[[LoadedPlugin], Any]) -> None:
        refused: list[str] = []  # every plugin's registration mistakes, reported together
        for name, impl in self.plugins.impls(hook):
            loaded = self.plugins.plugins[name]
            try:
                self.plugins.call_impl(impl, register=make_register(loaded))
            except RegistrationError as exc:
                refused.extend(exc.errors)
            except Exception as exc:
                if self.config["strict_plugins"] or loaded.builtin:
                    raise
                log.exception("plugin %s failed while registering; skipped", name)
                self._drop(name, error_text(exc))
        if refused:
            raise RegistrationError(refused)

    def _drop(self, name: str, error: str) -> None:
        """Take a failing plugin out entirely: no handlers, no jobs, no tables touched."""
        self.plugins.fail(name, error)
        self.routes.drop(name)
        self._migration_sources = [(p, d) for p, d in self._migration_sources if p != name]

    # -- lifecycle ---------------------------------------------------------------------
    def run_cli(self, plugin: str, name: str, args: list[str]) -> int:
        """Run a plugin's command-line command (``plugbot_register_cli``) in a database connection."""
        command = self.routes.cli[(plugin, name)]
        with dbmod.connection_scope():
            return int(command.fn(self.plugins.plugins[plugin].handle, list(args)) or 0)

    def migrate(self) -> dict[str, list[str]]:
        with dbmod.connection_scope():
            return migrate(self.db, self._migration_sources)

    def migration_status(self) -> list[Any]:
        with dbmod.connection_scope():
            return status(self.db, self._migration_sources)

    def rollback(self, plugin: str, target: str) -> list[str]:
        """Run ``down()`` of ``plugin``'s migration ``target`` and of every later one (``migrate --down``)."""
        with dbmod.connection_scope():
            return rollback(self.db, self._migration_sources, plugin, target)

    def _require_migrated(self) -> None:
        """With ``auto_migrate: false`` the operator migrates; never serve a schema the code is ahead of."""
        pending = [f"{m.plugin}/{m.name}" for m in self.migration_status() if m.applied_at is None]
        if pending:
            shown = ", ".join(pending[:3]) + (", …" if len(pending) > 3 else "")
            raise ConfigError([f"auto_migrate: false, but {len(pending)} migration(s) are pending ({shown}); "
                               "run `python -m framework migrate` first"])

    def start(self, *, scheduler: bool = True, telegram: bool = True) -> None:
        """Migrate, run startup hooks, schedule jobs, learn who the bot is."""
        self._require_live()
        self._started = True
        if self.config["auto_migrate"]:
            self.migrate()
        else:
            self._require_migrated()
        self.scheduler.use_store(DbJobStatsStore(self.clock))  # job_runs exists now; jobs are added below
        self.scheduler.use_ticks(DbTickStore(self.holder))  # and job_ticks
        for name, impl in self.plugins.impls("plugbot_startup"):
            try:
                with dbmod.connection_scope():
                    self.plugins.call_impl(impl)
            except Exception as exc:
                if self.config["strict_plugins"] or self.plugins.plugins[name].builtin:
                    raise
                log.exception("plugin %s failed at startup; skipped", name)
                self._drop(name, f"startup: {error_text(exc)}")
        self.runtime.refresh(force=True)  # admins' switches from earlier runs, before jobs are scheduled
        for job in self.routes.jobs.values():
            if not self.plugins.is_off(job.plugin):
                self._schedule(job)
        self.save_plugin_states()
        self.outbox.recover(at_start=True)  # replies a killed process committed and never sent go first
        self.counters.start()
        if self.queue.workers:
            self.queue.recover()  # updates stored by an earlier run and never processed
        if scheduler:
            self.scheduler.start()
        if telegram:
            self._introduce()

    def _introduce(self) -> None:
        me = self.sender.call("get_me")
        self.bot_username = getattr(me, "username", None) or (me.get("username") if isinstance(me, dict) else None)
        commands = self.menu_commands()
        try:
            self.sender.call("set_my_commands", commands=commands)
        except SendError as exc:
            log.warning("could not set the command menu: %s", exc)
        self.publish_admin_menus()

    def menu_commands(self, user: Any = None) -> list[Any]:
        """The command menu: everyone's commands, and for ``user`` also the admin commands their
        permissions allow. Commands of a plugin switched off are left out."""
        from telebot.types import BotCommand

        lang = self.config["default_language"]
        return [BotCommand(c.name, self.i18n.t(c.plugin, c.help, lang)[:256])
                for name in self.plugins.order if not self.plugins.is_off(name)
                for c in self.routes.commands_of(name)
                if c.help and not c.hidden
                and (not c.permission or (user is not None and self.access.can(user, c.permission)))]

    def publish_admin_menu(self, user: Any) -> None:
        """Give ``user`` their own command menu (``BotCommandScopeChat``) listing what their permissions
        allow, or, when they are no admin (any more), take it away so they see everyone's menu."""
        from telebot.types import BotCommandScopeChat

        scope = BotCommandScopeChat(user.telegram_id)
        try:
            if self.access.is_admin(user):
                self.sender.call("set_my_commands", commands=self.menu_commands(user), scope=scope)
            else:
                self.sender.call("delete_my_commands", scope=scope)
        except SendError as exc:
            log.warning("could not set the command menu of admin %s: %s", user.telegram_id, exc)

    def publish_admin_menus(self) -> None:
        """Every admin's own command menu: the config's superadmins and the ``admin_users`` rows."""
        from .models import AdminUser, User

        with dbmod.connection_scope():
            admins = {row.telegram_id: row for row in User.select().join(AdminUser, on=(AdminUser.user == User.id))}
            for telegram_id in self.config["admins"]:
                admins.setdefault(telegram_id, User.get_or_none(User.telegram_id == telegram_id)
                                  or User(telegram_id=telegram_id))
            for user in admins.values():
                self.publish_admin_menu(user)

    def _roles_changed(self, user: Any) -> None:
        """An admin role changed: their cached profile (``is_admin``) and their command menu follow."""
        self.users.invalidate(user.telegram_id)
        self.publish_admin_menu(user)

    def stop(self) -> None:
        """Stop workers and jobs, run the shutdown hooks (if it was started), close the connections.

        Safe to call twice. Afterwards another application may be built in this process; work
        given to this one later makes it live again, or raises :class:`ApplicationLiveError` if
        another is live by then.
        """
        if self._stopped:
            return
        self._stopped = True
        try:
            self.queue.stop()
            self.scheduler.shutdown(wait=False)
            self.outbox.stop()  # what was sent is marked so, before the database closes
            if self._started:
                self._started = False  # a revived application runs its startup hooks again only through start()
                self.plugins.call_each("plugbot_shutdown")
            self.counters.stop()  # after the shutdown hooks: what they counted is flushed too
            self._close_connections()
        finally:
            _LIVE.release(self)

    def _close_connections(self) -> None:
        if hasattr(self.db, "close_all"):
            self.db.close_all()
        elif not self.db.is_closed():
            self.db.close()
        if getattr(self, "redis", None) is not None:
            self.redis.close()  # its pooled connections, like the database's

    def __enter__(self) -> Application:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _require_live(self) -> None:
        """Work on a stopped application makes it live again if no other is (a test's restart, a
        command after ``stop()``): the process-wide bindings are pointed back at this application."""
        if not self._stopped:
            return
        _LIVE.claim(self)
        dbmod.database.initialize(self.db)
        bind = getattr(self.api, "bind", None)
        if bind is not None:
            bind()
        self._stopped = False

    # -- updates -----------------------------------------------------------------------
    def feed(self, update: dict[str, Any]) -> None:
        """Store an update durably, then the workers take it: updates of one chat run in order,
        one at a time across every process, chats in parallel. Raises when it could not be
        stored (the transport must not acknowledge it then)."""
        self.feed_many([update])

    def feed_many(self, updates: list[dict[str, Any]]) -> None:
        """Store a batch of updates in one transaction (see :meth:`feed`)."""
        self._require_live()
        self.queue.store(updates)

    def backlog(self) -> int:
        """Updates stored and not processed yet, by every process (polling's backpressure)."""
        return self.queue.backlog()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every update fed so far is handled (False if ``timeout`` expired first)."""
        return self.queue.join(timeout)

    def process_update(self, update: dict[str, Any]) -> None:
        """Run one update synchronously (console mode and tests): not through the queue, still
        exactly once (the update id is claimed in its transaction)."""
        self._require_live()
        self.pipeline.process(update)

    def allowed_updates(self) -> list[str] | None:
        """The update kinds to ask Telegram for, None for Telegram's default (every kind but
        ``chat_member`` and reactions): the list only when an observer watches ``chat_member``,
        which Telegram sends only when asked for by name."""
        from .pipeline import SERVED

        observed = self.routes.observed()
        return sorted(SERVED | observed) if "chat_member" in observed else None

    def save_plugin_states(self) -> None:
        """Persist plugin status so ``plugbot plugins`` and the other processes see pauses.

        A pause is saved with its end (``paused_until``), which the other processes take up at
        their next refresh (:meth:`RuntimeSettings.refresh`). A process that is not paused leaves
        a row alone while it holds another process's pause it has not taken up yet, so it never
        writes a pause away; it clears a pause that ended or that it saw end itself.
        """
        from .models import PluginState

        now = self.now()
        with dbmod.connection_scope():
            for name, plugin in self.plugins.plugins.items():
                until = self.plugins.shared_pause(name, now)
                row = {PluginState.status: plugin.status, PluginState.last_error: redact(plugin.error),
                       PluginState.paused_until: until, PluginState.updated_at: now}
                if until is not None:
                    where = None
                else:
                    ended = [PluginState.paused_until.is_null(), PluginState.paused_until <= now]
                    lifted = self.plugins.lifted_pause(name)
                    if lifted is not None:
                        ended.append(PluginState.paused_until == lifted)
                    where = reduce(operator.or_, ended)
                (PluginState.insert({PluginState.name: name, **row})
                 .on_conflict(conflict_target=[PluginState.name], update=row, where=where)
                 .execute())

    def notify_admins(self, text: str) -> None:
        self.sender.deliver([Outgoing("send_message", {"chat_id": admin, "text": text})
                             for admin in self.config["admins"]])

    # -- runtime switches -------------------------------------------------------------------
    def _apply_switches(self, switches: dict[str, bool]) -> None:
        """Start or stop each switchable plugin as the admins' choices say (the config decides the rest):
        a plugin switched off answers nothing and its jobs are unscheduled, until switched on again."""
        with self._switching:
            for name in list(self.plugins.plugins):
                if self.plugins.switchable(name):
                    self._apply_switch(name, switches.get(name, self.plugins.config_default(name)))

    def _apply_switch(self, name: str, enabled: bool) -> None:
        """Switch one plugin in this process: its status, and its jobs in the scheduler."""
        if not self.plugins.switch(name, enabled):
            return
        log.warning("plugin %s switched %s by an admin", name, "on" if enabled else "off",
                    extra={"plugin": name})
        scheduled = {info.id for info in self.scheduler.jobs()}
        for job in self.routes.jobs.values():
            if job.plugin != name:
                continue
            if enabled and job.id not in scheduled and self._started:
                self._schedule(job)
            elif not enabled and job.id in scheduled:
                self.scheduler.remove_job(job.id)

    def _schedule(self, job: Any) -> None:
        if job.id in {info.id for info in self.scheduler.jobs()}:
            return  # already scheduled: start() after a stored switch turned a config-disabled plugin on
        self.scheduler.add_job(job.plugin, job.name, self._job_runner(job), trigger=job.trigger, **job.trigger_args)

    def _send_failed(self, item: Outgoing, error: Any) -> None:
        """A reply or job message Telegram refused: a 403 to a private chat means that user blocked
        the bot, so users.status says ``blocked`` until they write again."""
        chat_id = item.params.get("chat_id")
        if error.error_code == 403 and isinstance(chat_id, int) and chat_id > 0:
            with dbmod.connection_scope(), dbmod.database.atomic():
                self.users.mark_blocked(chat_id)

    def _message_sent(self, method: str, params: dict[str, Any], result: Any) -> None:
        """``plugbot_message_sent`` for each plugin that implements it, each in its own transaction."""
        impls = self.plugins.impls("plugbot_message_sent")
        if not impls:
            return
        message = sent_message(method, params, result)
        if message is None:
            return
        for name, impl in impls:
            if self.plugins.is_paused(name):
                continue
            try:
                with dbmod.connection_scope(), dbmod.database.atomic():
                    self.plugins.call_impl(impl, message=message)
            except Exception:  # noqa: BLE001 - one plugin's failure must not cost the others the message
                log.exception("plugin %s failed on a sent message", name, extra={"plugin": name})

    # -- jobs ----------------------------------------------------------------------------
    def _job_runner(self, job: Any) -> Callable[[], None]:
        def run() -> None:
            self.runtime.refresh()  # another process may have switched the plugin off
            if self.plugins.is_off(job.plugin):
                return
            context = JobContext(self, job.plugin)
            context.scheduled_for = current_fire_time()
            with dbmod.connection_scope(), dbmod.database.atomic():
                job.fn(context)
                row = self.outbox.store(context.outbox)
            context._run_commit_callbacks()
            self.outbox.send(row, context.outbox)

        run.__qualname__ = job.id
        return run

    def run_job(self, job_id: str) -> None:
        """Run a scheduled job now, through the scheduler's bookkeeping."""
        self._require_live()
        job = self.routes.jobs[job_id]
        self.runtime.refresh()
        if self.plugins.is_off(job.plugin):
            log.info("job %s not run: its plugin is switched off", job_id)
            return
        if job_id not in {info.id for info in self.scheduler.jobs()}:
            self._schedule(job)
        self.scheduler.run_now(job_id)

    # -- services for plugins ---------------------------------------------------------------
    def now(self) -> Any:
        return self.clock()

    def cache(self, name: str) -> Cache:
        """A named cache; its keys live under ``cache:{name}:`` so names never collide."""
        if name not in self._caches:
            cfg = self.config["cache"]
            self._caches[name] = Cache(self._cache_backend, name=name, max_value_bytes=cfg["max_value_bytes"],
                                       default_ttl=cfg["default_ttl"], namespace=f"{name}:")
        return self._caches[name]

    def caches(self) -> dict[str, Cache]:
        """Every named cache made so far, for the admin statistics."""
        return dict(self._caches)

    def plugin_cache(self, plugin: str) -> Cache:
        return self.cache(f"plugin:{plugin}")

    def plugin_settings(self, plugin: str) -> dict[str, Any]:
        loaded = self.plugins.plugins.get(plugin)
        return loaded.settings if loaded is not None else {}

    def conversation_of(self, plugin: str, name: str | None) -> Conversation | None:
        return self.routes.conversations.get((plugin, name)) if name else None

    def find_conversation(self, plugin: str, state: str, current: str | None) -> Conversation:
        """The conversation of ``plugin`` that has ``state`` (the current one first)."""
        if current is not None:
            conv = self.routes.conversations.get((plugin, current))
            if conv is not None and state in conv.transitions:
                return conv
        for (owner, _), conv in self.routes.conversations.items():
            if owner == plugin and state in conv.transitions:
                return conv
        raise LookupError(f"plugin {plugin!r} registered no conversation with state {state!r}")

    def settings_row(self) -> AppSettings:
        """The single ``app_settings`` row (settings admins change at runtime), created by the core migration."""
        return AppSettings.get_or_none(AppSettings.id == 1) or AppSettings(id=1)


class OfflineApi:
    """The Bot API of an application without a token (``migrate``, ``plugins``): every call fails."""

    def call(self, method: str, **params: Any) -> Any:
        raise SendError(method, None, "no telegram.token configured")
