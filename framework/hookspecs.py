"""Every hook a plugbot plugin can implement: the one file a plugin author reads.

A plugin is a module (or package) with functions decorated by
``framework.hookimpl`` whose names match the specs below. Implement only the
hooks you need. The core calls each hook *plugin by plugin*, so it always
knows which plugin registered a command, model or job, and one plugin's
failure never stops the others.

``register_*`` hooks receive a ``register`` callback instead of returning
values: the core binds it to the calling plugin, and a duplicate (two
plugins claiming the same command, callback prefix or job name) fails at
startup naming both plugins.

The built-in features (``/start``, ``/help``, ``/cancel``, ``/language``,
``/mydata``, ``/deleteme``, consent, retention jobs) are plugins of this same
system, see ``framework/builtins/``; read them as examples.

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
    ``depends_on`` and the plugbot ``api_version`` range the plugin was written for."""


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
    """Call ``register(Model)`` for each peewee model the plugin owns.

    Used for ``plugins`` listings and for tests that build tables directly;
    the schema itself is created by the plugin's migrations.
    """


@hookspec
def plugbot_register_migrations(register: Any) -> None:
    """Call ``register(directory)`` with the plugin's ``migrations/`` folder
    (numbered ``0001_name.py`` files defining ``up(migrator, db)``, peewee's runner format)."""


# --------------------------------------------------------------------------
# Behaviour: handlers, locales and middleware
# --------------------------------------------------------------------------


@hookspec
def plugbot_register_locales(register: Any) -> None:
    """Call ``register(directory)`` with a folder holding ``en.yaml``, ``ru.yaml``...;
    ``ctx.t(key)`` looks keys up in this plugin's catalog."""


@hookspec
def plugbot_register_handlers(register: Any) -> None:
    """Declare what the plugin answers, through the :class:`framework.registry.HandlerRegistry`:

    ``register.command(name, fn, help=..., rate_limit="10/hour", permission=None)``,
    ``register.text(fn, priority=0)``, ``register.callback(prefix, fn)``,
    ``register.conversation(conv)``, ``register.content(["photo"], fn)``,
    ``register.payment(pre_checkout=fn, successful=fn)``.
    Every handler is ``fn(ctx) -> bool | None``.
    """


@hookspec
def plugbot_before_update(ctx: Any) -> bool | None:
    """Observe an update before its handler runs (after access control and
    rate limits). Return ``False`` to stop the update here."""


@hookspec
def plugbot_after_update(ctx: Any, error: BaseException | None) -> None:
    """Observe an update after its handler ran (``error`` is what it raised, if anything)."""


# --------------------------------------------------------------------------
# Time: jobs, startup and shutdown
# --------------------------------------------------------------------------


@hookspec
def plugbot_register_jobs(register: Any) -> None:
    """Call ``register(name, fn, trigger="cron"|"interval", **trigger_args)`` per job.

    The job id is ``<plugin>.<name>``; ``fn(job)`` receives a :class:`framework.JobContext`.
    """


@hookspec
def plugbot_startup(app: Any) -> None:
    """The application is wired (database migrated, services up) and about to serve."""


@hookspec
def plugbot_shutdown(app: Any) -> None:
    """The application is stopping: release what ``plugbot_startup`` acquired."""


# --------------------------------------------------------------------------
# User data rights: /mydata, /deleteme and retention
# --------------------------------------------------------------------------


@hookspec
def plugbot_export_user_data(user: Any) -> dict[str, Any] | None:
    """Return everything this plugin stores about ``user`` (a core ``User`` row) as JSON-able data."""


@hookspec
def plugbot_delete_user_data(user: Any, app: Any) -> None:
    """Delete everything this plugin stores about ``user``; runs inside the /deleteme transaction.

    ``app`` is there for what lives outside the database (say, the plugin's cache entries for
    this user); like any hook argument, declare it only if you need it.
    """


@hookspec
def plugbot_archive_user_data(user: Any) -> None:
    """Opt-in retention: archive the data of a user inactive for the archive period (180 days)."""


# --------------------------------------------------------------------------
# Admin
# --------------------------------------------------------------------------


@hookspec
def plugbot_stats() -> dict[str, Any] | None:
    """Return counters this plugin contributes to the admin ``/stats`` (name → number)."""
