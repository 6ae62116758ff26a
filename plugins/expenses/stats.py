"""Statistics for a period, computed by the database with GROUP BY.

Amounts in other currencies are converted in SQL with a ``CASE currency WHEN
... THEN amount * factor`` expression built from the user's rates, so totals,
category shares, the daily series and the top expenses all come from a handful
of aggregate queries whatever the number of rows. Currencies without a rate to
the report currency are left out of those numbers and reported separately.

SQLite returns aggregates of NUMERIC columns as floats; :func:`money.to_decimal`
rounds them back to the currency's minor unit.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import peewee

from framework import User

from .models import Category, Expense
from .money import to_decimal


@dataclass(frozen=True)
class CategoryTotal:
    category: Category | None
    total: Decimal
    count: int
    share: Decimal  # percent of the period's converted total


@dataclass(frozen=True)
class TopExpense:
    expense: Expense
    converted: Decimal


@dataclass
class Report:
    """Everything /stats shows for one period, in ``currency``."""

    start: dt.date
    end: dt.date
    currency: str
    total: Decimal = Decimal(0)
    count: int = 0
    by_currency: list[tuple[str, Decimal, int]] = field(default_factory=list)
    unconverted: list[tuple[str, Decimal, int]] = field(default_factory=list)
    by_category: list[CategoryTotal] = field(default_factory=list)
    by_day: list[tuple[dt.date, Decimal]] = field(default_factory=list)
    top: list[TopExpense] = field(default_factory=list)
    previous_total: Decimal = Decimal(0)

    @property
    def change(self) -> Decimal | None:
        """Percent change against the previous period (None when it had no spending)."""
        if self.previous_total <= 0:
            return None
        return ((self.total - self.previous_total) * 100 / self.previous_total).quantize(Decimal(1))


def _base(user: User, start: dt.date, end: dt.date) -> peewee.Expression:
    return ((Expense.user == user.id) & (Expense.is_deleted == False) & (Expense.archived == False)  # noqa: E712
            & (Expense.expense_date >= start) & (Expense.expense_date <= end))


def converted(factors: dict[str, Decimal], target: str) -> peewee.Node:
    """SQL for the amount in ``target``: ``CASE currency WHEN 'EUR' THEN amount * 1.08 ... END``."""
    whens = [(code, Expense.amount * factor) for code, factor in sorted(factors.items()) if code != target]
    return peewee.Case(Expense.currency, whens, Expense.amount) if whens else Expense.amount


def by_currency(user: User, start: dt.date, end: dt.date) -> list[tuple[str, Decimal, int]]:
    """Raw totals per currency, largest count first."""
    query = (Expense.select(Expense.currency, peewee.fn.SUM(Expense.amount), peewee.fn.COUNT(Expense.id))
             .where(_base(user, start, end)).group_by(Expense.currency).tuples())
    rows = [(code, to_decimal(total, code), int(count)) for code, total, count in query]
    return sorted(rows, key=lambda r: (-r[2], r[0]))


def report_currency(preferred: str, present: list[tuple[str, Decimal, int]], factors: dict[str, Decimal]) -> str:
    """The user's currency, unless none of the period's money can be expressed in it."""
    if not present or any(code in factors for code, _, _ in present):
        return preferred
    return present[0][0]


def total(user: User, start: dt.date, end: dt.date, factors: dict[str, Decimal], target: str) -> Decimal:
    """Converted total of the period (currencies without a factor are left out)."""
    value = (Expense.select(peewee.fn.SUM(converted(factors, target)))
             .where(_base(user, start, end) & Expense.currency.in_(list(factors))).scalar())
    return to_decimal(value, target)


def _by_category(user: User, start: dt.date, end: dt.date, factors: dict[str, Decimal],
                 target: str) -> list[tuple[Category | None, Decimal, int]]:
    amount = peewee.fn.SUM(converted(factors, target)).alias("total")
    query = (Expense.select(Expense.category, amount, peewee.fn.COUNT(Expense.id).alias("n"))
             .where(_base(user, start, end) & Expense.currency.in_(list(factors)))
             .group_by(Expense.category).tuples())
    rows = list(query)
    ids = [category_id for category_id, _, _ in rows if category_id is not None]
    names = {c.id: c for c in Category.select().where(Category.id.in_(ids))} if ids else {}
    return [(names.get(category_id), to_decimal(value, target), int(n)) for category_id, value, n in rows]


def _by_day(user: User, start: dt.date, end: dt.date, factors: dict[str, Decimal],
            target: str) -> list[tuple[dt.date, Decimal]]:
    query = (Expense.select(Expense.expense_date, peewee.fn.SUM(converted(factors, target)))
             .where(_base(user, start, end) & Expense.currency.in_(list(factors)))
             .group_by(Expense.expense_date).order_by(Expense.expense_date).tuples())
    return [(_as_date(day), to_decimal(value, target)) for day, value in query]


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _top(user: User, start: dt.date, end: dt.date, factors: dict[str, Decimal], target: str,
         limit: int) -> list[TopExpense]:
    value = converted(factors, target)
    query = (Expense.select(Expense, Category, value.alias("converted"))
             .join(Category, peewee.JOIN.LEFT_OUTER)
             .where(_base(user, start, end) & Expense.currency.in_(list(factors)))
             .order_by(value.desc(), Expense.id.desc()).limit(limit))
    return [TopExpense(e, to_decimal(e.converted, target)) for e in query]


def build(user: User, start: dt.date, end: dt.date, previous: tuple[dt.date, dt.date], preferred: str,
          factors_for: object, top_n: int = 3) -> Report:
    """The whole report. ``factors_for(currency)`` returns conversion factors into ``currency``."""
    present = by_currency(user, start, end)
    factors = factors_for(preferred)
    target = report_currency(preferred, present, factors)
    if target != preferred:
        factors = factors_for(target)
    report = Report(start=start, end=end, currency=target, by_currency=present)
    report.unconverted = [row for row in present if row[0] not in factors]
    grouped = _by_category(user, start, end, factors, target)
    report.total = sum((t for _, t, _ in grouped), Decimal(0))
    report.count = sum(n for _, _, n in grouped)
    report.by_category = sorted(
        (CategoryTotal(c, t, n, _share(t, report.total)) for c, t, n in grouped),
        key=lambda row: (-row.total, row.category.sort_order if row.category else 10**6),
    )
    report.by_day = _by_day(user, start, end, factors, target)
    report.top = _top(user, start, end, factors, target, top_n)
    report.previous_total = total(user, previous[0], previous[1], factors, target)
    return report


def _share(part: Decimal, whole: Decimal) -> Decimal:
    if whole <= 0:
        return Decimal(0)
    return (part * 100 / whole).quantize(Decimal("0.1"))
