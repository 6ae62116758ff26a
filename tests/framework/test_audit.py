"""Audit trails through the real update pipeline, on both backends."""
from __future__ import annotations

import datetime as dt

import pytest
from plugins_for_tests import HELLO, PROBE, build, texts
from plugins_for_tests.probe import events

from framework import User, connection_scope
from framework.builtins.datarights import DeleteMeAnswer
from framework.models import AuditLog, PdAuditLog

ALICE = 801
T0 = dt.datetime(2025, 1, 10, 8, 0, tzinfo=dt.UTC)


def _audit(action: str) -> list[AuditLog]:
    with connection_scope():
        return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def _pd(action: str) -> list[PdAuditLog]:
    with connection_scope():
        return list(PdAuditLog.select().where(PdAuditLog.action == action).order_by(PdAuditLog.id))


def _user_id(telegram_id: int) -> int:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id).id


def test_audit_row_commits_with_the_change(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    assert texts(bot.user(ALICE).send("/write first")) == ["written"]
    [row] = events("write", ALICE)
    [audit] = _audit("probe_written")
    assert (audit.user_id, audit.telegram_id, audit.plugin) == (_user_id(ALICE), ALICE, "probe")
    assert (audit.entity_type, audit.entity_id, audit.details) == ("probe_event", row.id, {"note": "first"})


def test_failing_handler_rolls_back_its_row_and_its_audit(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    alice = bot.user(ALICE)
    assert texts(alice.send("/boom")) == ["Something went wrong, sorry. Please try again."]
    assert events("write", ALICE) == []
    assert _audit("probe_written") == []
    # The user row and the update marker of that update are kept; the bot goes on working.
    assert _user_id(ALICE)
    assert texts(alice.send("/write after")) == ["written"]
    assert len(events("write", ALICE)) == 1 and len(_audit("probe_written")) == 1


def test_a_redelivered_failed_update_is_not_run_again(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    update = bot.user(ALICE).message_update("chain first boom")
    assert texts(bot.process(update)) == ["Something went wrong, sorry. Please try again."]
    assert texts(bot.process(update)) == []  # the failure was recorded as processing it
    assert events("chain_first", ALICE) == [] and events("chain_second", ALICE) == []


def test_a_later_handler_failing_keeps_the_earlier_handlers_work(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    alice = bot.user(ALICE)
    assert texts(alice.send("chain boom")) == ["Something went wrong, sorry. Please try again."]
    assert [e.note for e in events("chain_first", ALICE)] == ["chain boom"]  # kept: its handler succeeded
    assert events("chain_second", ALICE) == []  # rolled back to its savepoint
    assert texts(alice.send("chain ok")) == ["chained"]
    assert len(events("chain_first", ALICE)) == 2 and len(events("chain_second", ALICE)) == 1


def test_personal_data_operations_are_written_to_pd_audit_log(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = bot.user(ALICE)
    alice.send("/hello")
    user_id = _user_id(ALICE)

    alice.send("/language ru")
    [row] = _pd("update_settings")
    assert (row.actor_id, row.target_user_id, row.details) == (user_id, user_id, {"language": [None, "ru"]})

    alice.send("/mydata")
    [row] = _pd("export_data")
    assert (row.actor_id, row.target_user_id) == (user_id, user_id)
    assert "hello" in row.details["plugins"]

    alice.send("/deleteme")
    assert _pd("delete_account") == []                      # asking is not deleting
    alice.press(data=DeleteMeAnswer(confirm=True))
    [row] = _pd("delete_account")
    assert (row.actor_id, row.target_user_id) == (None, None)
    assert "hello" in row.details["plugins"]
    # Rows about the erased user stay, without pointing at anyone.
    assert [(r.actor_id, r.target_user_id) for r in _pd("export_data") + _pd("update_settings")] == [(None, None)] * 2


@pytest.mark.parametrize("configured", [30, None], ids=["30 days configured", "default"])
def test_audit_retention_job_deletes_only_rows_past_retention(bot_factory, monkeypatch, backend, configured) -> None:
    config = {"audit": {"retention_days": configured}} if configured else {}
    bot = build(bot_factory, backend, monkeypatch, PROBE, config=config)
    days = configured or 365                                 # 365 unless configured
    assert bot.app.config["audit"]["retention_days"] == days
    alice = bot.user(ALICE)
    bot.set_time(T0)
    alice.send("/write old")
    alice.send("/language ru")
    later = T0 + dt.timedelta(days=days * 2 // 3)
    bot.set_time(later)
    alice.send("/write recent")
    alice.send("/language en")
    assert len(_audit("probe_written")) == 2 and len(_pd("update_settings")) == 2

    bot.set_time(T0 + dt.timedelta(days=days) - dt.timedelta(hours=1))
    bot.run_job("maintenance.audit_retention")               # an hour short of the period: kept
    assert len(_audit("probe_written")) == 2 and len(_pd("update_settings")) == 2

    bot.set_time(T0 + dt.timedelta(days=days, hours=1))
    bot.run_job("maintenance.audit_retention")
    assert [a.details["note"] for a in _audit("probe_written")] == ["recent"]
    assert [p.created_at for p in _pd("update_settings")] == [later]
    stats = bot.app.scheduler.job_stats()["maintenance.audit_retention"]
    assert (stats.runs, stats.failures, stats.last_outcome) == (2, 0, "ok")
    assert len(events("write", ALICE)) == 2                   # only the audit trail is pruned
