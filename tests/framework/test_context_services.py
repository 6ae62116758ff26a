"""Plugins reach the services from the context (``ctx.users``, ``job.audit``...), never from the
application; the services are built from what they use, not from the whole application."""
from __future__ import annotations

import datetime as dt

from framework import AuditService, User, connection_scope
from framework.models import AuditLog, PdAuditLog

ALICE = 1401
SERVICES = ("users", "access", "audit", "ratelimiter", "scheduler", "i18n", "llm", "cache")

PLUGIN = '''
from framework import PluginInfo, hookimpl

SEEN = {}


@hookimpl
def plugbot_plugin_info():
    return PluginInfo(name="svcprobe", version="0.1.0")


@hookimpl
def plugbot_register_handlers(register):
    register.command("svc", svc)


@hookimpl
def plugbot_register_jobs(register):
    register("audit", audit_job, trigger="interval", hours=1)


def svc(ctx):
    SEEN["ctx"] = {name: getattr(ctx, name) for name in SERVICES}
    ctx.audit("svc_called", "probe", 7, {"via": "ctx"})
    ctx.audit.pd(ctx.user, ctx.user, "view_profile")
    ctx.cache.set("last", ctx.telegram_id)
    ctx.reply(ctx.users.language_of(ctx.user) + " " + str(ctx.can("admin")))


def audit_job(job):
    SEEN["job"] = {name: getattr(job, name) for name in SERVICES}
    user = SEEN["user"]
    job.audit("job_ran", user=user, details={"cached": job.cache.get("last")})
'''


def _bot(bot_factory, monkeypatch, tmp_path, backend):
    (tmp_path / "svcprobe.py").write_text(PLUGIN.replace("SEEN = {}", f"SEEN = {{}}\nSERVICES = {SERVICES!r}"))
    monkeypatch.syspath_prepend(str(tmp_path))
    kwargs = {"database": "postgres", "redis": True} if backend == "redis" else {}
    return bot_factory(plugins={"svcprobe": {"module": "svcprobe"}}, **kwargs)


def test_handlers_and_jobs_reach_the_applications_services_from_their_context(
        bot_factory, monkeypatch, tmp_path, backend) -> None:
    import sys

    bot = _bot(bot_factory, monkeypatch, tmp_path, backend)
    bot.set_time(dt.datetime(2025, 3, 12, 12, 0, tzinfo=dt.UTC))
    assert [r.text for r in bot.user(ALICE, language_code="ru").send("/svc")] == ["ru False"]
    seen = sys.modules["svcprobe"].SEEN
    app = bot.app
    expected = {name: getattr(app, name) for name in SERVICES if name not in ("audit", "cache")}
    assert {name: seen["ctx"][name] for name in expected} == expected
    assert seen["ctx"]["cache"] is app.plugin_cache("svcprobe")      # the plugin's own namespace

    with connection_scope():
        seen["user"] = User.get(User.telegram_id == ALICE)
    bot.run_job("svcprobe.audit")
    assert {name: seen["job"][name] for name in expected} == expected
    with connection_scope():
        rows = [(r.action, r.plugin, r.telegram_id, r.details) for r in AuditLog.select().order_by(AuditLog.id)
                if r.plugin == "svcprobe"]
        pd = [(r.action, r.actor_id, r.target_user_id) for r in PdAuditLog.select()]
    user_id = seen["user"].id
    assert rows == [("svc_called", "svcprobe", ALICE, {"via": "ctx"}),
                    ("job_ran", "svcprobe", ALICE, {"cached": ALICE})]
    assert ("view_profile", user_id, user_id) in pd


def test_a_service_is_built_from_what_it_uses(bot_factory) -> None:
    bot_factory()                                   # a migrated database to write to
    when = dt.datetime(2030, 1, 2, 3, 4, tzinfo=dt.UTC)
    audit = AuditService(lambda: when)              # a clock is all the audit trail needs
    with connection_scope():
        row = audit.log("built_alone", plugin="tests")
        assert AuditLog.get_by_id(row.id).created_at == when
