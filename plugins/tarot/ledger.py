"""The credit ledger: every change of a balance is one transaction row, written with the balance
in the same database transaction, never below zero, never twice for one payment.

Each function runs in the caller's transaction (an update's or a job's) inside a savepoint of its
own, so a failure leaves neither the balance nor the row behind. The account row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises
writers) and then updated with a compare-and-set on ``version``: two parallel debits of one
account take turns, and the second sees the first's balance.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import peewee

from framework import User, database

from .models import APPLIED, Credits, Transaction

STARS = "telegram_stars"
_CAS_ATTEMPTS = 5


class InsufficientCredits(Exception):
    """The balance does not cover a debit; nothing was written."""

    def __init__(self, balance: int, needed: int) -> None:
        super().__init__(f"balance {balance} does not cover {needed}")
        self.balance, self.needed = balance, needed


class LedgerConflict(RuntimeError):
    """The account kept changing under a compare-and-set (should not happen with the row lock)."""


def account_of(user: User, now: dt.datetime) -> Credits:
    """The user's account, created (balance 0) on first use; safe against a parallel first use."""
    account = Credits.get_or_none(Credits.user == user.id)
    if account is None:
        Credits.insert(user=user.id, balance=0, version=1, created_at=now,
                       last_updated_at=now).on_conflict_ignore().execute()
        account = Credits.get(Credits.user == user.id)
    return account


def balance_of(user: User) -> int:
    """The stored balance (0 for a user without an account); no row is created."""
    account = Credits.get_or_none(Credits.user == user.id)
    return account.balance if account is not None else 0


def _locked(account_id: int) -> Credits:
    query = Credits.select().where(Credits.id == account_id)
    if isinstance(database.obj, peewee.PostgresqlDatabase):
        query = query.for_update()
    return query.get()


def _apply(account_id: int, user: User | None, amount: int, kind: str, now: dt.datetime, *,
           status: str = "completed", allow_partial: bool = False, **fields: Any) -> Transaction:
    """Move ``amount`` (signed) on the account and record it; the caller holds a savepoint.

    ``allow_partial`` takes what is there when a debit exceeds the balance (a refunded purchase
    whose credits were partly spent) instead of refusing it.
    """
    for _ in range(_CAS_ATTEMPTS):
        account = _locked(account_id)
        if account.balance + amount < 0:
            if not allow_partial:
                raise InsufficientCredits(account.balance, -amount)
            amount = -account.balance
        after = account.balance + amount
        changed = (Credits.update(balance=after, version=Credits.version + 1, last_updated_at=now)
                   .where((Credits.id == account.id) & (Credits.version == account.version)).execute())
        if changed:
            return Transaction.create(account=account.id, user=user.id if user is not None else None, type=kind,
                                      amount=amount, credits_before=account.balance, credits_after=after,
                                      status=status, created_at=now, updated_at=now,
                                      completed_at=now if status in APPLIED else None, **fields)
    raise LedgerConflict(f"account {account_id} changed {_CAS_ATTEMPTS} times during one update")


def debit(user: User, cost: int, kind: str, now: dt.datetime, **fields: Any) -> Transaction:
    """Take ``cost`` credits; :class:`InsufficientCredits` (nothing written) when the balance is short."""
    if cost <= 0:
        raise ValueError(f"a debit takes a positive cost, got {cost}")
    account = account_of(user, now)
    with database.atomic():
        return _apply(account.id, user, -cost, kind, now, **fields)


def credit(user: User, amount: int, kind: str, now: dt.datetime, **fields: Any) -> Transaction:
    """Add ``amount`` credits (a bonus, an admin grant, a subscription's monthly credits)."""
    if amount <= 0:
        raise ValueError(f"a credit takes a positive amount, got {amount}")
    account = account_of(user, now)
    with database.atomic():
        return _apply(account.id, user, amount, kind, now, **fields)


def purchase(user: User, credits: int, charge_id: str, now: dt.datetime, *, kind: str = "purchase",
             metadata: dict[str, Any] | None = None) -> tuple[Transaction, bool]:
    """Credit a paid pack exactly once per ``charge_id`` (Telegram's ``telegram_payment_charge_id``).

    Returns ``(transaction, True)`` when this call credited it, ``(the earlier transaction, False)``
    when the charge was credited before: by a redelivery, a parallel copy, a run before a restart.
    """
    account = account_of(user, now)
    with database.atomic():
        _locked(account.id)  # a parallel copy of this payment waits here, then finds the row below
        existing = Transaction.get_or_none(Transaction.payment_reference == charge_id)
        if existing is not None:
            return existing, False
        try:
            with database.atomic():
                return _apply(account.id, user, credits, kind, now, payment_provider=STARS,
                              payment_reference=charge_id, metadata=metadata), True
        except peewee.IntegrityError:
            # Only a copy for another account gets here (the lock serialises one account's copies).
            return Transaction.get(Transaction.payment_reference == charge_id), False


def refund(original: Transaction, now: dt.datetime, *, reference: str | None = None,
           reason: str | None = None) -> Transaction | None:
    """Reverse ``original`` (a reading: give the credits back; a purchase: take back what is left of
    them) with a ``refund`` transaction, and mark the original ``refunded``. None when it was
    reversed before, so a repeated refund (a redelivered ``refunded_payment``) changes nothing."""
    with database.atomic():
        _locked(original.account_id)
        claimed = (Transaction.update(status="refunded", refund_reference=reference, updated_at=now)
                   .where((Transaction.id == original.id) & (Transaction.status == "completed")).execute())
        if not claimed:
            return None
        user = User.get_or_none(User.id == original.user_id) if original.user_id else None
        return _apply(original.account_id, user, -original.amount, "refund", now, allow_partial=True,
                      refund_reference=reference, error_message=reason,
                      metadata={"reverses": original.id, "requested": -original.amount})


def recent(user: User, limit: int = 5) -> list[Transaction]:
    return list(Transaction.select().where(Transaction.user == user.id)
                .order_by(Transaction.id.desc()).limit(limit))


def anonymise(user: User) -> None:
    """/deleteme: cut the user from their account and transactions, keeping the amounts (the books
    must still balance) and dropping what names them (the metadata)."""
    Transaction.update(user=None, metadata=None).where(Transaction.user == user.id).execute()
    Credits.update(user=None).where(Credits.user == user.id).execute()


@dataclass(frozen=True)
class Violation:
    account: int
    problem: str

    def __str__(self) -> str:
        return f"account {self.account}: {self.problem}"


def verify() -> list[Violation]:
    """Check the invariant for every account: balance >= 0 and equal to the sum of the applied
    transactions, each applied transaction's ``credits_after = credits_before + amount``, and
    each one starting where the previous one of its account ended."""
    problems: list[Violation] = []
    sums = dict(Transaction.select(Transaction.account, peewee.fn.SUM(Transaction.amount))
                .where(Transaction.status.in_(APPLIED)).group_by(Transaction.account).tuples())
    for account_id, balance in Credits.select(Credits.id, Credits.balance).tuples():
        total = int(sums.get(account_id) or 0)
        if balance < 0:
            problems.append(Violation(account_id, f"negative balance {balance}"))
        if balance != total:
            problems.append(Violation(account_id, f"balance {balance} but its transactions sum to {total}"))
    for account_id, rows in _applied_by_account():
        expected = 0
        for tx_id, amount, before, after in rows:
            if after != before + amount:
                problems.append(Violation(account_id, f"transaction {tx_id}: {before} {amount:+d} is not {after}"))
            if before != expected:
                problems.append(Violation(account_id, f"transaction {tx_id} starts at {before}, "
                                                      f"the previous one ended at {expected}"))
            expected = after
    return problems


def _applied_by_account() -> Iterator[tuple[int, list[tuple[int, int, int, int]]]]:
    query = (Transaction.select(Transaction.account, Transaction.id, Transaction.amount, Transaction.credits_before,
                                Transaction.credits_after)
             .where(Transaction.status.in_(APPLIED)).order_by(Transaction.account, Transaction.id).tuples())
    current, rows = None, []
    for account_id, *row in query.iterator():
        if account_id != current and current is not None:
            yield current, rows
            rows = []
        current = account_id
        rows.append(tuple(row))
    if current is not None:
        yield current, rows
