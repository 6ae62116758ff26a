"""nlp: quick-add phrasings in English and Russian, and what must stay chat."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

pytest.importorskip("hypothesis", reason="property tests need hypothesis (pip install plugbot[dev])")

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.expenses import categories
from plugins.expenses.nlp import parse_expense

TODAY = dt.date(2025, 3, 12)  # a Wednesday
YESTERDAY = dt.date(2025, 3, 11)


def parse(text: str, lang: str = "en", currency: str = "USD", known: frozenset[str] = frozenset()):
    return parse_expense(text, today=TODAY, lang=lang, default_currency=currency, known_words=known)


# text, lang, amount, currency, category guessed from keywords, date
POSITIVES = [
    ("coffee $5", "en", "5", "USD", "Food", TODAY),
    ("5 coffee", "en", "5", "USD", "Food", TODAY),
    ("taxi 12.50 eur", "en", "12.50", "EUR", "Transport", TODAY),
    ("lunch 8,90€ yesterday", "en", "8.90", "EUR", "Food", YESTERDAY),
    ("обед 350₽", "ru", "350", "RUB", "Food", TODAY),
    ("продукты 1 200 руб", "ru", "1200", "RUB", "Food", TODAY),
    ("$1,234.56 laptop", "en", "1234.56", "USD", "Shopping", TODAY),
    ("coffee 5", "en", "5", "USD", "Food", TODAY),
    ("uber 23.40 usd", "en", "23.40", "USD", "Transport", TODAY),
    ("cinema 15 dollars", "en", "15", "USD", "Entertainment", TODAY),
    ("rent 1200 EUR", "en", "1200", "EUR", "Bills", TODAY),
    ("pharmacy £7.99", "en", "7.99", "GBP", "Health", TODAY),
    ("gym 30 bucks on monday", "en", "30", "USD", "Health", dt.date(2025, 3, 10)),
    ("dinner last friday 30 usd", "en", "30", "USD", "Food", dt.date(2025, 3, 7)),
    ("groceries 45.20 2025-03-01", "en", "45.20", "USD", "Food", dt.date(2025, 3, 1)),
    ("coffee 4 10.03", "en", "4", "USD", "Food", dt.date(2025, 3, 10)),
    ("beer €6 today", "en", "6", "EUR", "Food", TODAY),
    ("netflix 9.99$", "en", "9.99", "USD", "Entertainment", TODAY),
    ("shoes 1,299 yen", "en", "1299", "JPY", "Shopping", TODAY),
    ("$5", "en", "5", "USD", "Other", TODAY),
    ("кофе 150р", "ru", "150", "RUB", "Food", TODAY),
    ("такси 450 рублей", "ru", "450", "RUB", "Transport", TODAY),
    ("вчера такси 500", "ru", "500", "RUB", "Transport", YESTERDAY),
    ("в пятницу кино 600₽", "ru", "600", "RUB", "Entertainment", dt.date(2025, 3, 7)),
    ("аптека 1 250,50 ₽", "ru", "1250.50", "RUB", "Health", TODAY),
    ("ужин 2500 руб. позавчера", "ru", "2500", "RUB", "Food", dt.date(2025, 3, 10)),
    ("бензин 3000", "ru", "3000", "RUB", "Transport", TODAY),
    ("обед 8,90 евро", "ru", "8.90", "EUR", "Food", TODAY),
    ("интернет 600 р 01.03", "ru", "600", "RUB", "Bills", dt.date(2025, 3, 1)),
    ("кофе 5$ в понедельник", "ru", "5", "USD", "Food", dt.date(2025, 3, 10)),
    ("одежда 15 000 руб 05.02.2025", "ru", "15000", "RUB", "Shopping", dt.date(2025, 2, 5)),
    ("метро 62 ₽ сегодня", "ru", "62", "RUB", "Transport", TODAY),
    ("подарок маме 3 000 ₽", "ru", "3000", "RUB", "Shopping", TODAY),
    ("продукты 1,234", "ru", "1.234", "RUB", "Food", TODAY),
]


@pytest.mark.parametrize(("text", "lang", "amount", "currency", "category", "date"), POSITIVES)
def test_recognised_expenses(text, lang, amount, currency, category, date) -> None:
    default = "RUB" if lang == "ru" else "USD"
    parsed = parse(text, lang, default)
    assert parsed is not None, text
    assert parsed.amount == Decimal(amount)
    assert parsed.currency == currency
    assert parsed.date == date
    assert (categories.guess_system_name(parsed.words) or "Other") == category


def test_note_keeps_the_words_and_drops_amount_date_and_fillers() -> None:
    assert parse("lunch 8,90€ yesterday").note == "lunch"
    assert parse("$5 for coffee").note == "coffee"
    assert parse("2 coffee 300₽", "ru").note == "2 coffee"
    assert parse("подарок маме 3 000 ₽", "ru").note == "подарок маме"
    assert parse("$5").note == ""


def test_explicit_currency_is_flagged() -> None:
    assert parse("coffee $5").explicit_currency is True
    assert parse("coffee 5").explicit_currency is False


def test_default_currency_applies_without_marker() -> None:
    assert parse("coffee 5", currency="EUR").currency == "EUR"


@pytest.mark.parametrize("text", [
    "I have 3 cats",
    "see you at 5",
    "hello",
    "taxi at 5",
    "call me in 5 min",
    "buy 3 apples",
    "meeting at 5 at the cafe",
    "how much is coffee $5?",
    "we were 4 people at the bar",
    "coffee 5 and tea 3",
    "$5 and $6 for lunch",
    "it is 50% off",
    "version 1.5",
    "5:30 lunch",
    "coffee x2",
    "-5 coffee",
    "/add 5",
    "",
    "   ",
    "в 5 встретимся",
    "у меня 3 кошки",
    "позвони через 10 минут",
    "try 5",
    "coffee 5 yesterday today",
    "coffee 5 31.02.2025",
    "2025 was a good year",
    "line one 5 coffee\nline two",
    "I walked 5 km to the coffee shop today and it was lovely weather",
    "a" * 200 + " $5",
])
def test_not_expenses(text: str) -> None:
    assert parse(text) is None


def test_learned_word_counts_like_a_keyword() -> None:
    assert parse("flowers 20") is None
    parsed = parse("flowers 20", known=frozenset({"flowers"}))
    assert parsed is not None and parsed.amount == Decimal(20)


def test_lang_decides_the_lone_comma() -> None:
    assert parse("laptop $1,234").amount == Decimal("1234")
    assert parse("кофе 1,25 $", "ru").amount == Decimal("1.25")


def test_weekday_today_means_today() -> None:
    assert parse("coffee $3 wednesday").date == TODAY


def test_day_month_in_the_future_means_last_year() -> None:
    assert parse("coffee $3 25.12").date == dt.date(2024, 12, 25)


def test_zero_and_too_precise_amounts_are_parsed_for_a_clear_error() -> None:
    assert parse("coffee $0").amount == 0
    assert parse("coffee $1.999").amount == Decimal("1.999")


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    result = parse(text)
    assert result is None or result.amount >= 0


@settings(max_examples=100)
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2))
def test_any_marked_amount_is_read_back(amount: Decimal) -> None:
    assert parse(f"coffee ${amount}").amount == amount
