"""Every hook a plugbot plugin can implement: the one file a plugin author reads.

A plugin is a module (or package) with functions decorated by
``framework.hookimpl`` whose names match the specs below. Implement only the
hooks you need, declaring only the arguments you use (by name). The core calls
each hook *plugin by plugin*, through pluggy's record of the implementations,
so it always knows which plugin registered a command, model or job, and one
plugin's failure never stops the others. ``@hookimpl(tryfirst=True)`` /
``trylast=True`` move an implementation to the front / back of the order
(dependencies first otherwise). A misspelt hook, a hook function without
``@hookimpl``, an argument the hook does not pass, or a module with no hook at
all is a load error naming the file.

``register_*`` hooks receive a ``register`` callback instead of returning
values: the core binds it to the calling plugin (``register.plugin`` is the
plugin's :class:`framework.Plugin`), and a duplicate (two plugins claiming the
same command, callback prefix or job name) fails at startup naming both plugins.

Hooks that run outside an update receive ``plugin``, the plugin's
:class:`framework.Plugin` handle: its runtime name (the config section it was
loaded under), ``settings``, ``cache``, ``t``, ``log``, ``notify_admins`` and
the services. Never rely on a module constant for the plugin's name.

The built-in features (``/start``, ``/help``, ``/cancel``, ``/language``,
``/mydata``, ``/deleteme``, consent, retention jobs) are plugins of this same
system, see ``framework/builtins/``; read them as examples. Their commands are
defaults: a plugin replaces one with ``register.command(..., override=True)``.

Hooks are grouped by lifecycle, in the order the application calls them.
"""
from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("plugbot")

# --------------------------------------------------------------------------
# Identity and configuration: called once while loading, before anything else
# --------------------------------------------------------------------------


@hookspec
def plugbot_plugin_info() -> Any:
    """Return a :class:`framework.PluginInfo`: name, version, description,
    ``depends_on`` and the plugbot ``api_version`` range the plugin was written for
    (``">=2.0,<3.0"`` by default; a range without ``framework.API_VERSION`` is refused at load)."""


@hookspec
def plugbot_config_defaults() -> dict[str, Any]:
    """Return the defaults of this plugin's settings (its section under ``plugins:``).

    Use ``framework.REQUIRED`` as the value of a setting the operator must give;
    a missing one is reported as ``plugins.<name>.<key>: required setting missing``.
    """


@hookspec
def plugbot_validate_config(settings: dict[str, Any]) -> list[str] | None:
    """Check this plugin's merged settings; return problems as ``"key: message"`` strings."""


# --------------------------------------------------------------------------
# Storage: models and migrations, collected before the database is migrated
# --------------------------------------------------------------------------


@hookspec
def plugbot_register_models(register: Any) -> None:
    """Call ``register(Model)`` for each peewee model the plugin owns (``register.plugin``: the handle).

    Used for ``plugins`` listings and for tests that build tables directly;
    the schema itself is created by the plugin's migrations.
    """


@hookspec
def plugbot_register_migrations(register: Any) -> None:
    """Call ``register(directory)`` with the plugin's ``migrations/`` folder
    (numbered ``0001_name.py`` files defining ``up(migrator, db)``, peewee's runner format)."""


# --------------------------------------------------------------------------
# Behaviour: handlers, locales, middleware and the update observer
# --------------------------------------------------------------------------


@hookspec
def plugbot_register_locales(register: Any) -> None:
    """Call ``register(directory)`` with a folder holding ``en.yaml``, ``ru.yaml``...;
    ``ctx.t(key)`` looks keys up in this plugin's catalog."""


@hookspec
def plugbot_register_handlers(register: Any) -> None:
    """Declare what the plugin answers, through the :class:`framework.registry.HandlerRegistry`:

    ``register.command(name, fn, help=..., args=[arg.int("n")...], usage=None, rate_limit="10/hour",
    permission=None, hidden=False, allow_restricted=True, override=False)`` → ``fn(ctx, **args)``;
    ``register.text(fn, priority=0, groups=False)`` → ``fn(ctx)``;
    ``register.callback(DataClass, fn)`` → ``fn(ctx, data)`` with the parsed :class:`framework.CallbackData`;
    ``register.conversation(conv)`` (its states, entry command and callback classes);
    ``register.content(["photo"], fn)`` and ``register.payment(pre_checkout=fn, successful=fn, refunded=fn)``
    → ``fn(ctx)`` (answer with ``ctx.answer_pre_checkout(ok, error)``; ``ctx.message.successful_payment``;
    ``ctx.refunded_payment``, a dict);
    ``register.middleware(fn)``;
    ``register.observer(fn, updates=["message", "edited_message", "my_chat_member", "chat_member",
    "callback_query"])`` → ``fn(ctx)`` for every update of those kinds in every chat, beside the
    handlers, under a savepoint of its own (a failing observer changes nothing else).

    Every handler gets a :class:`framework.Context` first: ``ctx.user``, ``ctx.args`` (the raw
    text after the command), ``ctx.text``, ``ctx.callback_data`` (a pressed button's parsed
    data), ``ctx.chat_id``, ``ctx.settings``, ``ctx.session``, ``ctx.t(key, **params)``,
    ``ctx.tn(key, n, **params)`` (plural), and ``ctx.reply(text, buttons=...)`` to answer
    (``ctx.send_photo``, ``ctx.send_document`` for files). ``ctx.message`` and ``ctx.update`` are
    Telegram's objects; ``ctx.thread_id`` is the forum topic replies go to; ``ctx.can(permission)``
    asks the bot's access rules, ``ctx.chat_status()``, ``ctx.is_chat_admin()`` and ``ctx.member_count()`` ask Telegram
    about the chat and the user's standing in it. ``ctx.cache`` is the plugin's cache and
    ``ctx.after_commit(fn)`` runs ``fn`` once the update committed.

    A handler that returns normally has handled its update; ``return SKIP`` (or ``raise Skip``)
    passes it on: a text handler's text to the next text handler, a conversation state's text to
    the text handlers, a content handler's message to the next content handler (then its caption to
    the command and text handlers); a skipped button press is answered "no longer valid". A
    command's and a payment handler's return value means nothing.

    ``override=True`` replaces a built-in command (``/help``...), keeping its permission;
    without it, a built-in name is a RegistrationError naming both plugins.
    ``register.middleware(fn)`` wraps every handler of this plugin only: ``fn(ctx, call_next)``;
    ``return call_next()`` runs the handler, returning without calling it stops the update
    (handled). A middleware that raises fails like its plugin's handler.
    """


@hookspec
def plugbot_update_done(ctx: Any, error: BaseException | None, plugin: Any) -> None:
    """Observe every update, of every plugin, once it is over: after its transaction committed
    (or was rolled back) and its replies were sent. ``error`` is what a handler raised, else
    ``None``; ``ctx.plugin`` is whose handler ran last (``plugin`` is the observer's own
    handle). For metrics and admin counters; to act
    on your own handlers, use ``register.middleware``. Runs outside any transaction (wrap
    several writes in ``framework.database.atomic()``); a raising observer is logged and the
    others still run."""


@hookspec
def plugbot_message_sent(message: Any, plugin: Any) -> None:
    """A message the bot sent (or whose text it edited) was accepted by Telegram: ``message`` is a
    :class:`framework.SentMessage` (chat_id, message_id, text, content_type, reply_to_message_id,
    thread_id, edited, method). Called once per message, chunks of a long text each on their
    own, whoever sent it (a reply, a job, an admin notice). Runs after the update's or job's
    commit, on the sending thread, in a transaction of its own; one that raises is logged and
    rolled back, and the other plugins still get the message."""


# --------------------------------------------------------------------------
# Time: jobs, startup and shutdown
# --------------------------------------------------------------------------


@hookspec
def plugbot_register_jobs(register: Any) -> None:
    """Call ``register(name, fn, trigger="cron"|"interval"|"date", **trigger_args)`` per job
    (``trigger_args`` are APScheduler's: ``minutes=15``, ``hour=9``, ``run_date=...``).

    The job id is ``<plugin>.<name>``; ``fn(job)`` receives a :class:`framework.JobContext`:
    ``job.settings``, ``job.now()``, ``job.t(key, lang=None, **params)`` and ``job.tn(key, n,
    lang=None, **params)`` (the default language unless ``lang=`` says otherwise),
    ``job.language_of(user)`` (the user's /language choice, else Telegram's), ``job.notify(user,
    key, *, buttons=None, **params)`` (``key`` of the plugin's catalog in ``user``'s language) and
    ``job.audit(action, user=...)``; ``job.cache`` (the plugin's cache), ``job.call_api(method, ...)``
    and ``job.after_commit(callback)`` (run once the job's transaction committed).
    A job runs in a transaction; what it sends leaves after the
    commit. Registering a job name twice is a RegistrationError.
    """


@hookspec
def plugbot_startup(plugin: Any) -> None:
    """The application is wired (database migrated, services up) and about to serve.
    A plugin whose startup raises is taken out (no handlers, no jobs) unless ``strict_plugins``."""


@hookspec
def plugbot_shutdown(plugin: Any) -> None:
    """The application is stopping: release what ``plugbot_startup`` acquired."""


# --------------------------------------------------------------------------
# User data rights: /mydata, /deleteme and retention
# --------------------------------------------------------------------------


@hookspec
def plugbot_export_user_data(user: Any, plugin: Any) -> dict[str, Any] | None:
    """Return everything this plugin stores about ``user`` (a core ``User`` row) as JSON-able data."""


@hookspec
def plugbot_delete_user_data(user: Any, plugin: Any) -> None:
    """Delete everything this plugin stores about ``user``; runs inside the /deleteme transaction.

    ``plugin.cache`` reaches what lives outside the database (the plugin's cache entries for
    this user).
    """


@hookspec
def plugbot_archive_user_data(user: Any, plugin: Any) -> None:
    """Opt-in retention: archive the data of a user inactive for the archive period (180 days)."""


@hookspec
def plugbot_unarchive_user_data(user: Any, plugin: Any) -> None:
    """An archived user is back (their first update since): bring back what the archive put away.

    The core has cleared ``user_settings.archived_at`` already; runs in that update's transaction.
    """


# --------------------------------------------------------------------------
# Admin
# --------------------------------------------------------------------------


@hookspec
def plugbot_plugin_status(name: str, status: str, error: str | None, plugin: Any) -> None:
    """Plugin ``name`` changed state on its own: ``status="paused"`` (the circuit breaker stopped it
    after repeated errors; ``error`` is the last one) or ``"enabled"`` (its pause ran out, or an admin
    resumed it). For telling admins (``plugin.send``); when no plugin implements it, the core tells
    the config's admins in a plain message. Runs where the change happened, possibly inside an update."""


@hookspec
def plugbot_user_info(user: Any, plugin: Any) -> dict[str, Any] | None:
    """What this plugin knows about ``user`` (a core ``User`` row), for the admins' ``/user`` profile:
    a few short facts, label → value (``{"expenses": 42, "last expense": "2025-03-01"}``), or None
    when it stores nothing about them. Called inside the admin's update; keep it to a query or two."""


@hookspec
def plugbot_register_cli(register: Any) -> None:
    """Add commands to the command line: ``register(name, fn, help="...")`` makes
    ``python -m framework <plugin> <name> [args...]`` call ``fn(plugin, args)`` with the plugin's
    handle and the remaining arguments (a list of strings), inside a database connection, and exit
    with the integer it returns. The database is the configured one, not migrated by the call.
    """


@hookspec
def plugbot_stats(plugin: Any) -> dict[str, Any] | None:
    """Return counters this plugin contributes to the admin's ``/plugins`` (name → number)."""
