"""The expense commands' declared arguments: hostile input answered in the user's language, never a
crash (five crashes from one user used to pause the plugin for everyone), and text after a newline."""
from __future__ import annotations

import pytest
from expenses_helpers import rows, texts

USAGE_LIST = "Usage: /list [period…]"


@pytest.mark.parametrize(("command", "expected"), [
    ("/list 0001-01-01", "Only dates from 1970 to 2100."),
    ("/stats 0001-01-01..0001-01-31", "Only dates from 1970 to 2100."),
    ("/export 9999", "Only dates from 1970 to 2100."),
    ("/list 9999-12", "Only dates from 1970 to 2100."),
    ("/list someday", "I could not read that period."),
])
def test_periods_out_of_range_are_refused_with_the_usage(alice, command: str, expected: str) -> None:
    answer = texts(alice.send(command))
    assert answer.startswith(expected) and "Usage: /" + command.split()[0][1:] in answer
    assert "Something went wrong" not in answer


def test_period_words_and_unicode_digits(alice) -> None:
    alice.send("coffee $5")
    assert "Expenses for 2025-03-01 – 2025-03-31: 1" in texts(alice.send("/list ２０２５-03"))
    assert "Expenses for 2025-03-12: 1" in texts(alice.send("/list today"))


def test_period_errors_in_russian(bot) -> None:
    ivan = bot.user(3003, language_code="ru")
    answer = texts(ivan.send("/list 0001-01-01"))
    assert answer.startswith("Только даты с 1970 по 2100 год.") and "Как пользоваться: /list [период…]" in answer


def test_text_after_a_newline_is_the_argument(alice) -> None:
    assert "Monthly budget set to $500.00" in texts(alice.send("/budget\n500"))
    assert texts(alice.send("/add\n12.50")).startswith("$12.50: choose a category.")


@pytest.mark.parametrize(("command", "expected"), [
    ("/rate USD EUR 99999999999999999", "rate must be at most 9999999999.9999.\nUsage: /rate USD EUR 0.92"),
    ("/rate USD", "Missing second currency.\nUsage: /rate USD EUR 0.92"),
    ("/rate USD EUR 0.92 extra", "I did not expect “extra” here.\nUsage: /rate USD EUR 0.92"),
    ("/budget 99999999999999999", "A monthly budget can be at most 1,000,000,000."),
])
def test_numbers_too_large_get_the_right_message(alice, command: str, expected: str) -> None:
    assert texts(alice.send(command)).startswith(expected)


def test_rate_reads_currencies_and_decimal_commas(alice) -> None:
    assert texts(alice.send("/rate usd eur 0,92")) == "Exchange rate saved: 1 USD = 0.92 EUR."
    assert texts(alice.send("/rate USD XYZ 2")).startswith("Both currencies must be codes I know")


def test_rate_in_russian(bot) -> None:
    ivan = bot.user(3003, language_code="ru")
    assert texts(ivan.send("/rate USD EUR 99999999999999999")).startswith(
        "курс: не больше 9999999999.9999.\nИспользование: /rate")


def test_settings_and_recurring_keep_their_own_usage(alice) -> None:
    usage = texts(alice.send("/settings colour red"))
    assert usage.startswith("Change: /settings currency EUR")
    assert texts(alice.send("/settings CURRENCY eur")).startswith("✅ Saved.")
    assert texts(alice.send("/recurring fly")).startswith("Add: /recurring add rent")
    assert rows(1001) == []
