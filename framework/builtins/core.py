"""Built-in plugin ``core``: /start, /help, /cancel, /language, /jobs, /plugins, and the core tables.

Written with the same hooks as any plugin. Its commands are defaults, registered
``trylast``: a plugin that registers ``/help`` with ``override=True`` replaces this one.
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Any

from ..arguments import arg
from ..callbacks import CallbackData
from ..context import Button, Context
from ..handling import SKIP
from ..plugins import PluginInfo, hookimpl

HERE = os.path.dirname(__file__)


class LanguageChoice(CallbackData, prefix="lang"):
    """A button of the /language picker."""

    code: str


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="core", version="1.0.0", description="start, help, cancel, language")


@hookimpl
def plugbot_register_migrations(register: Any) -> None:
    register(os.path.join(HERE, "migrations"))


@hookimpl
def plugbot_register_locales(register: Any) -> None:
    register(os.path.join(os.path.dirname(HERE), "locales"))


@hookimpl(trylast=True)
def plugbot_register_handlers(register: Any) -> None:
    register.command("start", start, help="help_start")
    register.command("help", help_, help="help_help")
    register.command("cancel", cancel, help="help_cancel")
    register.command("language", language, help="help_language", args=[arg.word("language", optional=True)])
    register.command("jobs", jobs, help="help_jobs", permission="admin")
    register.command("plugins", plugins, help="help_plugins", permission="admin")
    register.callback(LanguageChoice, choose_language)


@hookimpl
def plugbot_update_done(ctx: Context, error: BaseException | None) -> None:
    """Count, per plugin, the updates its handlers ran on and how many failed (shown by /plugins)."""
    if ctx.handlers_run:
        ctx.app.plugins.count_update(ctx.plugin, failed=error is not None)


def _command_lines(ctx: Context) -> list[str]:
    """One section per plugin: its description and its commands, in load order."""
    app = ctx.app
    lines: list[str] = []
    for name in app.plugins.order:
        if app.plugins.is_off(name):
            continue
        commands = [c for c in app.routes.commands_of(name) if not c.hidden
                    and (c.permission is None or app.access.can(ctx.user, c.permission))]
        if not commands:
            continue
        info = app.plugins.plugins[name].info
        title = ctx.i18n.t(name, "plugin_title", ctx.lang) if name != "core" else ctx.t("core.core_title")
        if title == "plugin_title":
            title = info.description or name
        lines.append(f"\n{title}")
        for command in commands:
            text = app.i18n.t(command.plugin, command.help, ctx.lang) if command.help else ""
            lines.append(f"/{command.name} — {text}" if text else f"/{command.name}")
    return lines


def start(ctx: Context) -> None:
    name = ctx.user.first_name or ctx.user.username or ""
    ctx.reply("\n".join([ctx.t("core.welcome", name=name).strip(), *_command_lines(ctx)]))


def help_(ctx: Context) -> None:
    ctx.reply("\n".join([ctx.t("core.help.header"), *_command_lines(ctx)]))


def cancel(ctx: Context) -> None:
    if ctx.session.raw_owner is None:
        ctx.reply(ctx.t("core.cancel.nothing"))
        return
    ctx.session.end()
    ctx.reply(ctx.t("core.cancel.done"))


def language(ctx: Context, language: str | None) -> None:
    available = ctx.i18n.languages("core")
    if language:
        wanted = language.lower()
        if wanted not in available:
            ctx.reply(ctx.t("core.language_unknown", languages=", ".join(available)))
            return
        _set_language(ctx, wanted)
        return
    ctx.reply(ctx.t("core.language.prompt"),
              buttons=[[Button(ctx.i18n.t("core", "language.name", code), LanguageChoice(code=code))
                        for code in available]])


def choose_language(ctx: Context, data: LanguageChoice) -> Any:
    if data.code not in ctx.i18n.languages("core"):
        return SKIP  # a language this bot no longer speaks: the button is stale
    _set_language(ctx, data.code)
    return None


def _set_language(ctx: Context, code: str) -> None:
    ctx.users.change_settings(ctx.user, actor=ctx.user, language=code)
    ctx.lang = code
    ctx.edit(ctx.t("core.language.changed"))


def jobs(ctx: Context) -> None:
    """Admins: every scheduled job with its last run, duration, outcome and failures."""
    stats = ctx.scheduler.job_stats()
    lines = [ctx.t("core.jobs_header")]
    for info in ctx.scheduler.jobs():
        lines.extend(_job_lines(ctx, info.id, stats.get(info.id), info.next_run_time))
    ctx.reply("\n".join(lines))


def _job_lines(ctx: Context, job_id: str, job: Any, next_run: Any = None) -> list[str]:
    """One job's line (and its last error) for /jobs and /plugins; ``job`` is None before a first run."""
    last = job.last_run_at.strftime("%Y-%m-%d %H:%M") if job and job.last_run_at else "—"
    if next_run is not None:
        last += " · " + ctx.t("core.jobs_next", next=next_run.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M"))
    outcome = job.last_outcome or "—" if job else "—"
    duration = f"{job.last_duration_s:.2f}s" if job and job.last_duration_s is not None else "—"
    lines = [ctx.t("core.jobs_line", id=job_id, last=last, outcome=outcome, duration=duration,
                   runs=job.runs if job else 0, failures=job.failures if job else 0)]
    if job and job.last_error:
        lines.append(f"   {job.last_error[:200]}")
    return lines


def off_label(status: str, switch: bool | None) -> str:
    """``off (admin)`` for a plugin an admin switched off, ``off (config)`` for one the config's
    ``enabled: false`` keeps off (an admin can switch it on); other statuses as they are."""
    if status != "off":
        return status
    return "off (admin)" if switch is False else "off (config)"


def plugins(ctx: Context) -> None:
    """Admins: each plugin's live status (a paused plugin shows here), version, updates handled,
    last error, its jobs' last runs, the counters plugins contribute through ``plugbot_stats``,
    and cache hit rates."""
    lines = [ctx.t("core.plugins_header")]
    job_stats = ctx.scheduler.job_stats()
    switches = ctx.runtime.switches()
    for name, plugin in ctx.app.plugins.plugins.items():
        ctx.app.plugins.is_paused(name)  # lets an expired pause lift before it is shown
        version = plugin.info.version if plugin.info else "—"
        lines.append(f"{name} {version} [{off_label(plugin.status, switches.get(name))}]")
        if plugin.updates:
            lines.append(ctx.t("core.plugin_updates", updates=plugin.updates, failed=plugin.failed_updates))
        if plugin.error:
            lines.append(f"   {plugin.error[:200]}")
        for job_id in sorted(job_id for job_id, job in ctx.app.routes.jobs.items() if job.plugin == name):
            lines.extend(f"   {line}" for line in _job_lines(ctx, job_id, job_stats.get(job_id)))
    for name, counters in ctx.app.plugins.call_each("plugbot_stats"):
        if counters:
            lines.append(f"{name}: " + ", ".join(f"{key}={value}" for key, value in counters.items()))
    for name, cache in sorted(ctx.app.caches().items()):
        stats = cache.stats()
        lines.append(ctx.t("core.cache_line", name=name, hits=stats.get("hits", 0), misses=stats.get("misses", 0)))
    ctx.reply("\n".join(lines))
