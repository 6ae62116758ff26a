"""money: parsing people's numbers into Decimal, validation per currency, formatting."""
from __future__ import annotations

from decimal import Decimal

import pytest

pytest.importorskip("hypothesis", reason="property tests need hypothesis (pip install plugbot[dev])")

from hypothesis import given
from hypothesis import strategies as st

from plugins.expenses import money
from plugins.expenses.money import AmountError


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("12.50", "en", "12.50"),
    ("12,50", "en", "12.50"),
    ("8,90", "ru", "8.90"),
    ("1 200", "ru", "1200"),
    ("1\u00a0200,50", "ru", "1200.50"),
    ("1,234.56", "en", "1234.56"),
    ("1.234,56", "ru", "1234.56"),
    ("1,234", "en", "1234"),
    ("1,234", "ru", "1.234"),
    ("0,125", "en", "0.125"),
    ("1,000,000", "en", "1000000"),
    ("1'000", "en", "1000"),
    ("5", "en", "5"),
])
def test_parse_number_accepts_what_people_type(text: str, lang: str, expected: str) -> None:
    assert money.parse_number(text, lang) == Decimal(expected)


@pytest.mark.parametrize("text", ["abc", "1e400", "NaN", "nan", "inf", "-Infinity", "", "1..2", "1,2,3",
                                  "12.5.6", "1.234.56,7,8", "--5", "5-", "0x10"])
def test_parse_number_rejects_non_numbers(text: str) -> None:
    with pytest.raises(AmountError) as err:
        money.parse_number(text)
    assert err.value.code == "invalid"


@pytest.mark.parametrize(("text", "currency", "code"), [
    ("0", "USD", "not_positive"),
    ("0.00", "USD", "not_positive"),
    ("-5", "USD", "not_positive"),
    ("abc", "USD", "invalid"),
    ("1e400", "USD", "invalid"),
    ("NaN", "USD", "invalid"),
    ("inf", "USD", "invalid"),
    ("1000000000.01", "USD", "too_large"),
    ("12.345", "USD", "too_precise"),
    ("100.5", "JPY", "too_precise"),
    ("1 000.5", "KRW", "too_precise"),
])
def test_parse_amount_errors_have_codes(text: str, currency: str, code: str) -> None:
    with pytest.raises(AmountError) as err:
        money.parse_amount(text, currency)
    assert err.value.code == code


def test_parse_amount_quantizes_to_minor_unit() -> None:
    assert money.parse_amount("12.5", "USD") == Decimal("12.50")
    assert str(money.parse_amount("12.5", "USD")) == "12.50"
    assert money.parse_amount("1000", "JPY") == Decimal("1000")
    assert str(money.parse_amount("1000.00", "JPY")) == "1000"
    assert money.parse_amount("1000000000", "USD") == money.MAX_AMOUNT


def test_validate_amount_never_accepts_special_values() -> None:
    for value in (Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")):
        with pytest.raises(AmountError):
            money.validate_amount(value, "USD")


@pytest.mark.parametrize(("token", "code"), [
    ("$", "USD"), ("€", "EUR"), ("₽", "RUB"), ("руб", "RUB"), ("рублей", "RUB"), ("р", "RUB"),
    ("eur", "EUR"), ("EUR", "EUR"), ("bucks", "USD"), ("евро", "EUR"), ("TRY", "TRY"), ("Kč", "CZK"),
])
def test_resolve_currency(token: str, code: str) -> None:
    assert money.resolve_currency(token) == code


@pytest.mark.parametrize("token", ["try", "gel", "cats", "hello", "php", "abc", ""])
def test_word_like_codes_and_words_are_not_currencies(token: str) -> None:
    assert money.resolve_currency(token) is None


def test_exponent_of_zero_decimal_currencies() -> None:
    assert [money.exponent(c) for c in ("JPY", "KRW", "VND", "CLP", "ISK", "USD", "XXX")] == [0, 0, 0, 0, 0, 2, 2]


@pytest.mark.parametrize(("amount", "currency", "fmt", "expected"), [
    ("1234.5", "USD", "en-US", "$1,234.50"),
    ("1234.5", "RUB", "ru-RU", "1\u00a0234,50\u00a0₽"),
    ("1234.5", "RUB", "en-US", "1,234.50\u00a0₽"),
    ("12", "CHF", "en-US", "12.00 CHF"),
    ("1500", "JPY", "en-US", "¥1,500"),
    ("8.9", "EUR", "ru-RU", "8,90\u00a0€"),
])
def test_format_money(amount: str, currency: str, fmt: str, expected: str) -> None:
    assert money.format_money(Decimal(amount), currency, fmt) == expected


def test_to_decimal_rounds_database_floats() -> None:
    assert money.to_decimal(0.30000000000000004, "USD") == Decimal("0.30")
    assert money.to_decimal(None, "USD") == Decimal("0.00")
    assert money.to_decimal(Decimal("12.345"), "JPY") == Decimal("12")
    assert money.to_decimal(7) == Decimal("7.00")


def test_scan_amounts_reads_markers_on_either_side() -> None:
    found = money.scan_amounts("taxi 12.50 eur and €3")
    assert [(m.number, m.currency) for m in found] == [("12.50", "EUR"), ("3", "EUR")]


@pytest.mark.parametrize("text", ["5:30", "50%", "x2", "1e400", "2025-03-01", "-5", "01/03", "v1.5"])
def test_scan_amounts_skips_times_percentages_and_glued_numbers(text: str) -> None:
    assert money.scan_amounts(text) == []


@given(st.decimals(min_value=Decimal("0.01"), max_value=money.MAX_AMOUNT, places=2, allow_nan=False))
def test_formatted_en_numbers_parse_back(amount: Decimal) -> None:
    text = money.format_number(amount, 2, "en-US")
    assert money.parse_amount(text, "USD", "en") == amount


@given(st.decimals(min_value=Decimal("0.01"), max_value=money.MAX_AMOUNT, places=2, allow_nan=False))
def test_formatted_ru_numbers_parse_back(amount: Decimal) -> None:
    text = money.format_number(amount, 2, "ru-RU")
    assert money.parse_amount(text, "RUB", "ru") == amount
