"""Statements built once (framework.statements) write exactly the rows peewee's builder writes."""
from __future__ import annotations

import datetime as dt
from typing import Any

from framework.db import connection_scope
from framework.models import AuditLog, IncomingUpdate, ProcessedUpdate, User
from framework.statements import insert, insert_many

NOW = dt.datetime(2026, 12, 6, 20, 30, 15, 123456, tzinfo=dt.UTC)


def test_a_created_row_reads_back_as_peewee_wrote_it(bound_db: Any) -> None:
    with connection_scope(), bound_db.atomic():
        user = User.create(telegram_id=42, first_name="Ann", created_at=NOW, updated_at=NOW, last_active=NOW)
        ours = AuditLog.create(user=user.id, telegram_id=42, plugin="expenses", action="expense_added",
                               details={"amount": "5.00", "note": "кофе"}, created_at=NOW)
        theirs = AuditLog(user=user.id, telegram_id=42, plugin="expenses", action="expense_added",
                          details={"amount": "5.00", "note": "кофе"}, created_at=NOW)
        theirs.save(force_insert=True)  # peewee's own INSERT
    assert isinstance(user.id, int) and ours.id is not None and ours.id != theirs.id and not ours.dirty_fields
    with connection_scope():
        rows = [(r.user_id, r.telegram_id, r.plugin, r.action, r.details, r.created_at)
                for r in AuditLog.select().order_by(AuditLog.id)]
        stored = User.get_by_id(user.id)
    assert rows[0] == rows[1] == (user.id, 42, "expenses", "expense_added", {"amount": "5.00", "note": "кофе"}, NOW)
    assert (stored.first_name, stored.language_code, stored.is_admin, stored.last_active) == ("Ann", "en", False, NOW)


def test_an_ignored_conflict_inserts_nothing_and_says_so(bound_db: Any) -> None:
    with connection_scope(), bound_db.atomic():
        first = insert(ProcessedUpdate, {"update_id": 7, "processed_at": NOW}, ignore_conflict=True)
        again = insert(ProcessedUpdate, {"update_id": 7, "processed_at": NOW}, ignore_conflict=True)
    assert (first, again) == (1, 0)
    with connection_scope():
        assert ProcessedUpdate.select().count() == 1


def test_a_batch_is_one_insert_and_skips_rows_already_stored(bound_db: Any) -> None:
    def row(update_id: int) -> dict[str, Any]:
        return {"update_id": update_id, "chat_key": 5, "payload": "{}", "received_at": NOW, "attempts": 0,
                "fast": False}

    with connection_scope(), bound_db.atomic():
        insert_many(IncomingUpdate, [row(1), row(2)], ignore_conflict=True)
        insert_many(IncomingUpdate, [row(2), row(3), row(4)], ignore_conflict=True)
    with connection_scope():
        stored = [(r.update_id, r.received_at, r.fast) for r in IncomingUpdate.select().order_by(IncomingUpdate.update_id)]
    assert stored == [(n, NOW, False) for n in (1, 2, 3, 4)]


def test_a_lookup_by_one_field_reads_the_row_peewee_reads(bound_db: Any) -> None:
    with connection_scope(), bound_db.atomic():
        user = User.create(telegram_id=43, username="bee", created_at=NOW, updated_at=NOW, last_active=NOW)
        AuditLog.create(user=user.id, telegram_id=43, action="seen", details={"n": 1}, created_at=NOW)
    with connection_scope():
        ours = AuditLog.get_or_none(AuditLog.user == user.id)
        theirs = AuditLog.select().where(AuditLog.user == user.id).get()
        by_instance = AuditLog.get_or_none(AuditLog.user == user)
        missing = User.get_or_none(User.telegram_id == 44)
        compound = User.get_or_none((User.telegram_id == 43) & (User.username == "bee"))
    assert ours.__data__ == theirs.__data__ == by_instance.__data__ and not ours.dirty_fields
    assert (ours.details, ours.created_at, ours.user.telegram_id) == ({"n": 1}, NOW, 43)
    assert missing is None and compound.id == user.id


def test_a_model_that_overrides_save_is_created_through_its_save(bound_db: Any) -> None:
    """peewee's ``Model.create`` calls ``save``; a plugin's model that overrides it (timestamps,
    a derived column) must still see every create, so the built-once INSERT is not used for it."""
    import peewee

    from framework.db import BaseModel

    class Stamped(BaseModel):
        name = peewee.CharField()
        derived = peewee.CharField(null=True)

        def save(self, *args: Any, **kwargs: Any) -> Any:
            self.derived = self.name.upper()
            return super().save(*args, **kwargs)

    with connection_scope():
        bound_db.create_tables([Stamped])
        try:
            row = Stamped.create(name="tea")
            assert Stamped.get_by_id(row.id).derived == "TEA"
        finally:
            bound_db.drop_tables([Stamped])
