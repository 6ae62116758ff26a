"""Input that used to crash a handler gets a friendly answer instead.

Each crash was an apology to the user and a failure counted against the plugin, so one user
repeating it could pause the plugin for everyone. Every date, period and timezone a user can
type is validated; strings no database can store are replaced before any handler sees them.
"""
from __future__ import annotations

from typing import Any

import pytest
from expenses_helpers import START, rows, texts

from plugins.expenses.views import DeleteListed, ListPage

APOLOGY = "Something went wrong"
YEARS = "Only dates from 1970 to 2100."


@pytest.fixture(params=[pytest.param(("sqlite", False), id="sqlite-memory"),
                        pytest.param(("postgres", True), id="postgres-redis")])
def hostile_bot(request: pytest.FixtureRequest, bot_factory: Any) -> Any:
    database, redis = request.param
    bot = bot_factory(plugins={"expenses": {"charts": False}}, database=database, redis=redis,
                      config={"ratelimit": {"messages_per_minute": 1000}})
    bot.set_time(START)
    return bot


def _no_failure(bot: Any, replies: list[Any]) -> str:
    text = texts(replies)
    assert APOLOGY not in text
    assert bot.app.plugins.plugins["expenses"].error is None
    return text


@pytest.mark.parametrize("command", [
    "/list 0001-01-01", "/list 0001-01-01..0001-01-05", "/list 9999-12-31", "/stats 0001-01-01..0001-01-31",
    "/stats 0001", "/stats 0001-01", "/export 0001-01-01..0001-12-31", "/export 0001", "/export 2101-01",
])
def test_periods_near_year_one_are_refused(hostile_bot: Any, command: str) -> None:
    alice = hostile_bot.user(1001, language_code="en")
    alice.send("coffee 5")
    assert YEARS in _no_failure(hostile_bot, alice.send(command))


def test_list_buttons_with_a_date_near_year_one_are_refused(hostile_bot: Any) -> None:
    alice = hostile_bot.user(1001, language_code="en")
    alice.send("coffee 5")
    expense = rows(1001)[0]
    for data in (ListPage(page=1, period="0001-01-01"), ListPage(page=0, period="0001-01-01..0001-01-03"),
                 DeleteListed(expense_id=expense.id, page=0, period="0001-01")):
        assert "no longer valid" in _no_failure(hostile_bot, alice.press(data=data))
    assert len(rows(1001)) == 1


@pytest.mark.parametrize("value", ["Europe", "America", "Europe/", "A" * 300, "../../etc/passwd", "/etc/localtime",
                                   "Europe/Moscow/..", "\U0001F600" * 50])
def test_timezones_that_are_no_zone_are_refused(hostile_bot: Any, value: str) -> None:
    alice = hostile_bot.user(1001, language_code="en")
    text = _no_failure(hostile_bot, alice.send(f"/settings timezone {value}"))
    assert "is not a timezone" in text
    assert len(text) < 300  # a 300-character name is not echoed back whole


def test_a_timezone_in_any_letter_case_is_stored_as_spelled_by_the_database(hostile_bot: Any) -> None:
    alice = hostile_bot.user(1001, language_code="en")
    assert "Timezone: Europe/Moscow" in _no_failure(hostile_bot, alice.send("/settings timezone europe/moscow"))


@pytest.mark.parametrize("text", ["coffee $5 0001-01-01", "coffee $5 01.01.0001", "taxi 7 eur 2200-01-01",
                                  "lunch $9 31.12.1969"])
def test_quick_add_dates_outside_1970_to_2100_are_refused(hostile_bot: Any, text: str) -> None:
    alice = hostile_bot.user(1001, language_code="en")
    assert YEARS in _no_failure(hostile_bot, alice.send(text))
    assert rows(1001) == []


def test_lone_surrogates_are_replaced_before_any_handler_sees_them(hostile_bot: Any) -> None:
    alice = hostile_bot.user(1001, language_code="en", first_name="Al\ud800ice", username="al\udfffice")
    _no_failure(hostile_bot, alice.send("/start"))
    text = _no_failure(hostile_bot, alice.send("coffee \ud800 $5"))
    assert "Saved" in text
    assert rows(1001)[0].note == "coffee \ufffd"
    _no_failure(hostile_bot, alice.send("/categories add Caf\udc00e"))
    _no_failure(hostile_bot, alice.press(data="exl:\ud800"))
    group = hostile_bot.user(1001, language_code="en").in_chat(-500, title="Gr\ud800oup")
    assert "Expenses for" in _no_failure(hostile_bot, group.send("/list"))


def test_any_decimal_digits_are_read_as_their_value(hostile_bot: Any) -> None:
    """Decided: Arabic-Indic (١٢٣), fullwidth (１２３) and other Unicode decimal digits are read as the
    number they write, everywhere a number is typed; superscripts (²) are no digits."""
    alice = hostile_bot.user(1001, language_code="en")
    assert "$123.00" in _no_failure(hostile_bot, alice.send("coffee ١٢٣"))
    assert "$45.00" in _no_failure(hostile_bot, alice.send("taxi $４５"))
    assert "$300.00" in _no_failure(hostile_bot, alice.send("/budget ٣٠٠"))
    assert "1 USD = 92.5 RUB" in _no_failure(hostile_bot, alice.send("/rate USD RUB ٩٢.٥"))
    assert "Expenses for 2025-03" in _no_failure(hostile_bot, alice.send("/list ٢٠٢٥-٠٣"))
    # not a number: plain chat, which no plugin takes, so the core points at /help
    assert _no_failure(hostile_bot, alice.send("coffee ²")) == "I did not understand that. Send /help to see what I can do."
    assert sorted(e.amount for e in rows(1001)) == [45, 123]
