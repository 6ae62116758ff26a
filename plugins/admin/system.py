"""Plugins, jobs and the audit trail: ``/plugin enable|disable|resume <name>``, ``/job run <name>``
and ``/audit [user] [action]``. The core's ``/plugins`` and ``/jobs`` list them."""
from __future__ import annotations

import json
from typing import Any

from framework import SKIP, Button, CallbackData, Context, User, arg

from . import menu
from .paging import clip, page_of, when

PLUGIN_ACTIONS = ("enable", "disable", "resume")
ACTION_CHARS = 30


class AuditPage(CallbackData, prefix="admaudit"):
    """A page of /audit, with its filters (0 and "" for none)."""

    page: int
    target: int = 0
    action: str = ""


class ResumePlugin(CallbackData, prefix="admresume"):
    """The Resume button of a circuit-breaker notice and of the plugins view (its admin's own)."""

    plugin: str


def register(register: Any) -> None:
    register.command("plugin", plugin_command, help="help.plugin", permission="superadmin",
                     args=[arg.choice("action", PLUGIN_ACTIONS), arg.word("name", max_length=100)])
    register.callback(ResumePlugin, resume_pressed)
    register.command("job", job_command, help="help.job", permission="superadmin",
                     args=[arg.choice("action", ("run",)), arg.word("name", max_length=200)])
    register.command("audit", audit, help="help.audit", permission="manage_users",
                     args=[arg.user("target", optional=True), arg.word("action", optional=True, max_length=50)])
    register.callback(AuditPage, audit_page)
    menu.VIEWS["audit"] = lambda ctx: audit_view(ctx, 0, None, "")
    menu.VIEWS["plugins"] = plugins_view
    menu.VIEWS["jobs"] = jobs_view


# -- plugins ----------------------------------------------------------------------------------------


def plugins_view(ctx: Context) -> tuple[str, list[list[Button]]]:
    statuses, switches = ctx.runtime.plugin_statuses(), ctx.runtime.switches()
    lines = [ctx.t("plugins.header")]
    lines += [f"{name} [{_shown(status, switches.get(name))}]" for name, status in statuses.items()]
    buttons = [[Button(ctx.t("plugins.resume", plugin=name), ResumePlugin(plugin=name))]
               for name, status in statuses.items() if status == "paused"]
    return "\n".join(lines), buttons


def _shown(status: str, switch: bool | None) -> str:
    """Who switched a plugin off: an admin (a stored choice) or the config (``enabled: false``,
    which ``/plugin enable`` overrides)."""
    if status != "off":
        return status
    return "off (admin)" if switch is False else "off (config)"


def plugin_command(ctx: Context, action: str, name: str) -> None:
    statuses = ctx.runtime.plugin_statuses()
    if name not in statuses:
        ctx.reply(ctx.t("plugins.unknown", plugin=name, known=", ".join(statuses)))
        return
    if action == "resume":
        ctx.reply(ctx.t("plugins.resumed" if ctx.runtime.resume(name, actor=ctx.user) else "plugins.not_paused",
                        plugin=name))
        return
    if not ctx.runtime.switchable(name):
        ctx.reply(ctx.t("plugins.not_switchable", plugin=name, status=statuses[name]))
        return
    enabled = action == "enable"
    if (statuses[name] == "off") != enabled:
        ctx.reply(ctx.t("plugins.already", plugin=name, status=statuses[name]))
        return
    ctx.runtime.switch_plugin(name, enabled, actor=ctx.user)
    ctx.reply(ctx.t("plugins.enabled" if enabled else "plugins.disabled", plugin=name))


def resume_pressed(ctx: Context, data: ResumePlugin) -> Any:
    if not ctx.can("superadmin"):
        return SKIP
    resumed = ctx.runtime.resume(data.plugin, actor=ctx.user)
    ctx.edit(ctx.t("plugins.resumed" if resumed else "plugins.not_paused", plugin=data.plugin))
    return None


# -- jobs -------------------------------------------------------------------------------------------


def jobs_view(ctx: Context) -> tuple[str, list[list[Button]]]:
    stats = ctx.scheduler.job_stats()
    lines = [ctx.t("jobs.header")]
    for info in ctx.scheduler.jobs():
        job = stats.get(info.id)
        lines.append(ctx.t("jobs.line", id=info.id, next=when(info.next_run_time),
                           last=when(job.last_run_at if job else None),
                           outcome=(job.last_outcome if job else None) or "—"))
    return "\n".join(lines), []


def job_command(ctx: Context, action: str, name: str) -> None:
    known = {info.id for info in ctx.scheduler.jobs()}
    if name not in known:
        ctx.reply(ctx.t("jobs.unknown", job=name, known=", ".join(sorted(known)) or "—"))
        return
    ctx.audit("job_run", "job", None, {"job": name})
    chat = ctx

    def run() -> None:  # after the commit: the job runs in a transaction of its own, as on its schedule
        stats = ctx.scheduler.run_now(name)
        chat.reply(chat.t("jobs.ran", job=name, outcome=stats.last_outcome or "—",
                          error=clip(stats.last_error or "", 200)))

    ctx.after_commit(run)


# -- audit ------------------------------------------------------------------------------------------


def audit(ctx: Context, target: User | None, action: str | None) -> None:
    text, buttons = audit_view(ctx, 0, target, clip(action or "", ACTION_CHARS))
    ctx.reply(text, buttons=buttons)


def audit_page(ctx: Context, data: AuditPage) -> Any:
    if not ctx.can("manage_users"):
        return SKIP
    target = User.get_or_none(User.telegram_id == data.target) if data.target else None
    text, buttons = audit_view(ctx, data.page, target, data.action)
    ctx.edit(text, buttons=buttons)
    return None


def audit_view(ctx: Context, number: int, target: User | None, action: str) -> tuple[str, list[list[Button]]]:
    size = int(ctx.settings["page_size"])
    entries = ctx.audit.recent(target=target, action=action or None, limit=size + 1, offset=max(0, number) * size)
    page = page_of(number, size, len(entries))
    if not entries:
        return ctx.t("audit.none"), []
    lines = [ctx.t("audit.header", page=page.number + 1)]
    for entry in entries[:size]:
        details = clip(json.dumps(entry["details"], ensure_ascii=False, default=str), 120) if entry["details"] else ""
        trail = "🔒" if entry["trail"] == "pd" else "•"
        lines.append(f"{trail} {when(entry['at'])} {entry['action']} {entry['actor'] or '—'} → "
                     f"{entry['target'] or '—'} {details}".rstrip())
    nav = []
    filters = {"target": target.telegram_id if target is not None else 0, "action": action}
    if page.has_previous:
        nav.append(Button(ctx.t("page.previous"), AuditPage(page=page.number - 1, **filters)))
    if page.has_next:
        nav.append(Button(ctx.t("page.next"), AuditPage(page=page.number + 1, **filters)))
    return "\n".join(lines), [nav] if nav else []
