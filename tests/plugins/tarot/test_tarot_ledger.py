"""The ledger on SQLite and PostgreSQL: balances never negative, every change a transaction, each
payment credited once, refunds applied once, and ``verify-ledger`` catching what does not add up."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from framework import User, connection_scope, database
from framework.cli import main as cli
from plugins.tarot import ledger
from plugins.tarot.models import Credits, Transaction

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _user(telegram_id: int) -> User:
    with connection_scope():
        return User.create(telegram_id=telegram_id, first_name=f"U{telegram_id}")


def _in_tx(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with connection_scope(), database.atomic():
        return fn(*args, **kwargs)


def test_debits_and_credits_keep_the_invariant(bot: Any) -> None:
    user = _user(1)
    _in_tx(ledger.credit, user, 5, "bonus", NOW)
    reading = _in_tx(ledger.debit, user, 3, "reading", NOW)
    with pytest.raises(ledger.InsufficientCredits) as refused:
        _in_tx(ledger.debit, user, 3, "reading", NOW)
    assert refused.value.balance == 2
    _in_tx(ledger.refund, reading, NOW, reason="generation failed")
    assert _in_tx(ledger.refund, reading, NOW) is None  # a second refund changes nothing
    with connection_scope():
        assert ledger.balance_of(user) == 5
        rows = [(t.type, t.amount, t.credits_before, t.credits_after, t.status)
                for t in Transaction.select().order_by(Transaction.id)]
        assert rows == [("bonus", 5, 0, 5, "completed"), ("reading", -3, 5, 2, "refunded"),
                        ("refund", 3, 2, 5, "completed")]
        assert ledger.verify() == []


def test_the_database_refuses_a_negative_balance_and_a_second_use_of_a_charge(bot: Any) -> None:
    user = _user(2)
    _in_tx(ledger.purchase, user, 10, "charge-1", NOW)
    with connection_scope(), pytest.raises(Exception), database.atomic():  # noqa: B017 - IntegrityError either way
        Credits.update(balance=-1).execute()
    with connection_scope(), pytest.raises(Exception), database.atomic():  # noqa: B017
        account = Credits.get()
        Transaction.create(account=account.id, type="purchase", amount=1, credits_before=10, credits_after=11,
                           status="completed", payment_reference="charge-1")


def test_a_charge_is_credited_once_in_parallel(bot: Any, database: str) -> None:
    user = _user(3)
    results: list[bool] = []
    start = threading.Barrier(8)

    def pay() -> None:
        start.wait()
        _, created = _in_tx(ledger.purchase, user, 10, "charge-parallel", NOW)
        results.append(created)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    with connection_scope():
        assert ledger.balance_of(user) == 10
        assert ledger.verify() == []


def test_parallel_debits_never_overdraw(bot: Any) -> None:
    user = _user(4)
    _in_tx(ledger.credit, user, 10, "bonus", NOW)
    outcomes: list[str] = []
    start = threading.Barrier(10)

    def spend() -> None:
        start.wait()
        for _ in range(5):
            try:
                _in_tx(ledger.debit, user, 1, "reading", NOW)
                outcomes.append("charged")
            except ledger.InsufficientCredits:
                outcomes.append("refused")

    threads = [threading.Thread(target=spend) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("charged") == 10 and outcomes.count("refused") == 40
    with connection_scope():
        assert ledger.balance_of(user) == 0
        assert ledger.verify() == []


def test_a_refunded_purchase_takes_back_only_what_is_left(bot: Any) -> None:
    user = _user(5)
    paid, _ = _in_tx(ledger.purchase, user, 10, "charge-5", NOW)
    _in_tx(ledger.debit, user, 4, "reading", NOW)
    refund = _in_tx(ledger.refund, paid, NOW, reference="charge-5")
    assert refund.amount == -6 and refund.credits_after == 0
    with connection_scope():
        assert Transaction.get_by_id(paid.id).status == "refunded"
        assert ledger.verify() == []


def test_anonymising_keeps_the_books_balanced(bot: Any) -> None:
    user = _user(6)
    _in_tx(ledger.credit, user, 4, "bonus", NOW, metadata={"by": "admin"})
    _in_tx(ledger.debit, user, 1, "reading", NOW)
    _in_tx(ledger.anonymise, user)
    with connection_scope():
        assert Transaction.select().where(Transaction.user.is_null(False)).count() == 0
        assert Credits.get().user_id is None and Credits.get().balance == 3
        assert ledger.verify() == []


def _config_file(tmp_path: Path, url: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": url}, "plugins": {"tarot": {"enabled": True}}}))
    return str(path)


def test_verify_ledger_on_the_command_line(bot: Any, tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    url = bot.app.config["database"]["url"]
    user = _user(7)
    _in_tx(ledger.credit, user, 4, "bonus", NOW)
    config = _config_file(tmp_path, url)
    bot.app.stop()  # one live application per process: the command builds its own
    assert cli(["--config", config, "tarot", "verify-ledger"]) == 0
    assert "ledger OK" in capsys.readouterr().out
    with connection_scope():
        Credits.update(balance=9).execute()  # money from nowhere
        Transaction.update(credits_before=1, credits_after=5).execute()  # the CHECK holds, the chain breaks
    assert cli(["--config", config, "tarot", "verify-ledger"]) == 1
    out = capsys.readouterr().out
    assert "balance 9 but its transactions sum to 4" in out
    assert "starts at 1, the previous one ended at 0" in out and "violation(s)" in out


def test_the_seed_indexes_exist_partial_ones_included(bot: Any, database: str) -> None:
    with connection_scope():
        if database == "postgres":
            rows = dict(database_obj().execute_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE %s", ("tarot_%",)).fetchall())
        else:
            rows = dict(database_obj().execute_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE ?", ("tarot_%",)).fetchall())
    assert "WHERE" in rows["tarot_transactions_pending"] and "pending" in rows["tarot_transactions_pending"]
    assert "WHERE" in rows["tarot_subscriptions_active"] and "active" in rows["tarot_subscriptions_active"]
    names = " ".join(rows)
    for columns in ("transaction_user_id_type_created_at", "transaction_account_id_id", "transaction_payment_reference",
                    "transaction_created_at", "reading_user_id_created_at", "reading_spread_type", "reading_created_at",
                    "credits_user_id", "subscription_user_id", "usersession_user_id"):
        assert columns in names, columns
    assert "UNIQUE" in rows["transaction_payment_reference"].upper() and "UNIQUE" in rows["credits_user_id"].upper()


def database_obj() -> Any:
    return database.obj
