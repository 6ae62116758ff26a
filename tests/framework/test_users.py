"""Personal data seen or changed by an admin, through the pipeline.

The core's ``users.profile`` and ``users.change_settings`` write ``pd_audit_log`` themselves,
so whichever admin command uses them (here the probe plugin's /whois and /usertz) is audited.
"""
from __future__ import annotations

import pytest
from plugins_for_tests import PROBE, build, texts

from framework import User, connection_scope
from framework.models import PdAuditLog

ALICE, ADMIN = 811, 999
NOT_ALLOWED = "You are not allowed to do that."


def _pd(action: str) -> list[PdAuditLog]:
    with connection_scope():
        return list(PdAuditLog.select().where(PdAuditLog.action == action).order_by(PdAuditLog.id))


def _user(telegram_id: int) -> User:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id)


def test_an_admin_viewing_a_profile_is_audited(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE, admins=(ADMIN,))
    alice, admin = bot.user(ALICE, first_name="Alice"), bot.user(ADMIN)
    alice.send("/language ru")

    assert texts(admin.send(f"/whois {ALICE}")) == ["Alice tz=UTC lang=ru"]
    [row] = _pd("view_profile")
    assert (row.actor_id, row.target_user_id) == (_user(ADMIN).id, _user(ALICE).id)
    assert {"first_name", "username", "timezone", "language", "last_active"} <= set(row.details["fields"])

    assert texts(admin.send("/whois 123456")) == ["no such user"]       # nobody viewed: nothing recorded
    assert texts(alice.send(f"/whois {ADMIN}")) == ["У вас нет прав на это действие."]
    assert len(_pd("view_profile")) == 1


def test_an_admin_changing_a_users_settings_is_audited(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE, admins=(ADMIN,))
    alice, admin = bot.user(ALICE), bot.user(ADMIN)
    alice.send("/whoami")

    assert texts(admin.send(f"/usertz {ALICE} Europe/Moscow")) == ["changed {'timezone': ['UTC', 'Europe/Moscow']}"]
    [row] = _pd("update_settings")
    assert (row.actor_id, row.target_user_id) == (_user(ADMIN).id, _user(ALICE).id)
    assert row.details == {"timezone": ["UTC", "Europe/Moscow"]}
    assert _user(ALICE).timezone == "Europe/Moscow"

    assert texts(admin.send(f"/usertz {ALICE} Mars/Olympus")) == ["unknown timezone 'Mars/Olympus'"]
    assert texts(admin.send(f"/usertz {ALICE} Europe/Moscow")) == ["changed {}"]   # no change, no audit row
    assert texts(alice.send(f"/usertz {ALICE} UTC")) == [NOT_ALLOWED]
    assert len(_pd("update_settings")) == 1 and _user(ALICE).timezone == "Europe/Moscow"


def test_a_language_set_by_an_admin_applies_to_the_next_reply(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE, admins=(ADMIN,))
    alice = bot.user(ALICE)
    assert texts(alice.send("/cancel")) == ["Nothing to cancel."]          # profile now cached
    with connection_scope():
        changed = bot.app.users.change_settings(_user(ALICE), actor=_user(ALICE), language="ru")
        with pytest.raises(ValueError, match="not a user setting"):
            bot.app.users.change_settings(_user(ALICE), actor=_user(ALICE), username="mallory")
        with pytest.raises(ValueError, match="unknown language"):
            bot.app.users.change_settings(_user(ALICE), actor=_user(ALICE), language="xx")
    assert changed == {"language": [None, "ru"]}
    assert texts(alice.send("/cancel")) == ["Отменять нечего."]
