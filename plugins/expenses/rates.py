"""Exchange rates the user typed (``/rate USD RUB 92.5`` means 1 USD = 92.5 RUB).

There is no rate feed: a converted total is only as good as the rates the user
set, so reports say which currencies could not be converted instead of guessing.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from framework import User

from .models import ExchangeRate

MAX_RATE = Decimal("9999999999.9999")
FACTOR_PLACES = Decimal("1e-10")


class RateError(ValueError):
    """A rate the user typed is not acceptable; ``code`` names the locale message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def set_rate(user: User, base: str, quote: str, rate: Decimal, now: dt.datetime) -> ExchangeRate:
    """Store (or replace) the user's rate 1 ``base`` = ``rate`` ``quote``."""
    if base == quote:
        raise RateError("same_currency")
    if not rate.is_finite() or rate <= 0 or rate > MAX_RATE:
        raise RateError("bad_rate")
    if rate != rate.quantize(Decimal("0.0001")):
        raise RateError("too_precise")
    (ExchangeRate
     .insert(user=user.id, base=base, quote=quote, rate=rate, set_at=now)
     .on_conflict(
         conflict_target=[ExchangeRate.user, ExchangeRate.base, ExchangeRate.quote],
         update={ExchangeRate.rate: rate, ExchangeRate.set_at: now},
     )
     .execute())
    # The reverse pair would now contradict this one: the newest word wins.
    ExchangeRate.delete().where(
        ExchangeRate.user == user.id, ExchangeRate.base == quote, ExchangeRate.quote == base
    ).execute()
    return ExchangeRate.get(ExchangeRate.user == user.id, ExchangeRate.base == base, ExchangeRate.quote == quote)


def all_rates(user: User) -> list[ExchangeRate]:
    """The user's rates, for /settings."""
    return list(ExchangeRate.select().where(ExchangeRate.user == user.id).order_by(ExchangeRate.base, ExchangeRate.quote))


def factors(user: User, target: str) -> dict[str, Decimal]:
    """Multipliers that turn an amount in each known currency into ``target``.

    ``target`` itself maps to 1; a direct rate X→target is used as is, a reverse
    rate target→X is inverted.
    """
    result = {target: Decimal(1)}
    rows = ExchangeRate.select().where(
        (ExchangeRate.user == user.id) & ((ExchangeRate.base == target) | (ExchangeRate.quote == target))
    )
    for row in rows:
        rate = Decimal(row.rate)
        if row.quote == target and row.base != target:
            result[row.base] = rate
        elif row.base == target and row.quote not in result:
            result[row.quote] = (Decimal(1) / rate).quantize(FACTOR_PLACES)
    return result
