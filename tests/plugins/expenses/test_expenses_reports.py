"""/stats, /export, /budget and /rate through the bot."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from expenses_helpers import rows, texts

from plugins.expenses.charts import PNG_SIGNATURE


def add(user, text: str) -> None:
    assert "Saved" in texts(user.send(text)), text


def test_stats_totals_categories_top_and_chart(alice) -> None:
    add(alice, "coffee $5")
    add(alice, "lunch $15")
    add(alice, "taxi $30")
    add(alice, "laptop $950")
    replies = alice.send("/stats")
    text = replies[0].text
    assert "📊 Statistics for 2025-03-01 – 2025-03-31" in text
    assert "Total: $1,000.00 (expenses: 4)" in text
    assert "🛍️ Shopping — $950.00 · 1 · 95.0%" in text
    assert "🍔 Food — $20.00 · 2 · 2.0%" in text
    assert "Top 3:\n1. $950.00" in text and "3. $15.00" in text
    pytest.importorskip("matplotlib", reason="charts need matplotlib (pip install plugbot[charts])")
    [photo] = [r for r in replies if r.method == "send_photo"]
    assert photo.photo.startswith(PNG_SIGNATURE)


def test_stats_compares_with_previous_month(alice, bot) -> None:
    bot.set_time(dt.datetime(2025, 2, 10, 12, tzinfo=dt.UTC))
    add(alice, "coffee $50")
    bot.set_time(dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC))
    add(alice, "coffee $75")
    assert "Previous period: $50.00 (+50%)" in texts(alice.send("/stats month"))
    assert "Total: $50.00" in texts(alice.send("/stats 2025-02"))


def test_stats_periods(alice, bot) -> None:
    add(alice, "coffee $5")  # Wednesday 12 March
    add(alice, "coffee $7 monday")  # 10 March
    add(alice, "coffee $9 2024-12-31")
    assert "Total: $5.00" in texts(alice.send("/stats today"))
    assert "Total: $12.00" in texts(alice.send("/stats week"))
    assert "Total: $12.00" in texts(alice.send("/stats year"))
    assert "Total: $9.00" in texts(alice.send("/stats 2024"))
    assert "Total: $21.00" in texts(alice.send("/stats 2024-12-01..2025-03-31"))
    assert "could not read that period" in texts(alice.send("/stats nonsense"))
    assert "No expenses" in texts(alice.send("/stats 2020-01"))


def test_sunday_night_in_moscow_and_week_start(alice, bot) -> None:
    alice.send("/settings timezone Europe/Moscow")
    bot.set_time(dt.datetime(2025, 3, 16, 20, 30, tzinfo=dt.UTC))  # Sunday 23:30 in Moscow
    add(alice, "coffee $5")
    assert rows(1001)[0].expense_date == dt.date(2025, 3, 16)
    bot.set_time(dt.datetime(2025, 3, 16, 22, 30, tzinfo=dt.UTC))  # Monday 01:30 in Moscow
    add(alice, "tea $2")
    assert rows(1001)[1].expense_date == dt.date(2025, 3, 17)
    # Week starting Monday: it is now Monday in Moscow, the Sunday coffee was last week.
    assert "Total: $2.00" in texts(alice.send("/stats week"))
    alice.send("/settings week_start sunday")
    # Week starting Sunday: Sunday 16 and Monday 17 are the same week.
    assert "Total: $7.00" in texts(alice.send("/stats week"))


def test_currencies_without_and_with_rates(alice) -> None:
    add(alice, "coffee $10")
    add(alice, "lunch 20 eur")
    text = texts(alice.send("/stats"))
    assert "Total: $10.00 (expenses: 1)" in text
    assert "Not included: €20.00 (1) — no EUR→USD rate" in text
    assert "By currency: €20.00 (1); $10.00 (1)" in text
    assert "Exchange rate saved: 1 EUR = 1.1 USD." in texts(alice.send("/rate EUR USD 1.1"))
    text = texts(alice.send("/stats"))
    assert "Total: $32.00 (expenses: 2)" in text and "Not included" not in text
    alice.send("/rate USD EUR 0.5")  # replaces the reverse rate: 1 EUR = 2 USD
    assert "Total: $50.00" in texts(alice.send("/stats"))


def test_rate_errors(alice) -> None:
    assert "Usage" in texts(alice.send("/rate USD"))
    assert "codes I know" in texts(alice.send("/rate USD XYZ 2"))
    assert "positive number" in texts(alice.send("/rate USD EUR -2"))
    assert "must differ" in texts(alice.send("/rate USD USD 1"))
    assert "4 decimal places" in texts(alice.send("/rate USD EUR 1.00001"))


def test_only_foreign_currency_reports_in_it(alice) -> None:
    add(alice, "обед 350₽")
    assert "Total: 350.00\u00a0₽" in texts(alice.send("/stats"))


def test_export_csv(alice) -> None:
    add(alice, 'coffee, "large" $5')
    add(alice, "обед 350₽")
    alice.send("/undo")
    add(alice, "taxi 12.50 eur")
    [doc] = alice.send("/export")
    assert doc.method == "send_document" and doc.filename == "expenses_2025-03-01_2025-03-31.csv"
    assert doc.document.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(doc.document.decode("utf-8-sig"), newline="")))
    assert parsed == [
        ["date", "amount", "currency", "category", "note", "source"],
        ["2025-03-12", "5.00", "USD", "Food", 'coffee, "large"', "nlp"],
        ["2025-03-12", "12.50", "EUR", "Transport", "taxi", "nlp"],
    ]
    assert "No expenses to export" in texts(alice.send("/export 2020-01"))


def test_budget_alerts_fire_once_each_per_month(alice, bot) -> None:
    assert "No monthly budget" in texts(alice.send("/budget"))
    assert "Monthly budget set to $100.00" in texts(alice.send("/budget 100"))
    assert len(alice.send("coffee $79")) == 1
    replies = alice.send("coffee $2")
    assert "⚠️ You have used 81%" in texts(replies)
    assert len(alice.send("coffee $1")) == 1
    replies = alice.send("coffee $20")
    assert "🚨 You have used 102%" in texts(replies) and "▓▓▓▓▓▓▓▓▓▓" in texts(replies)
    assert len(alice.send("coffee $1")) == 1
    bot.set_time(dt.datetime(2025, 4, 2, 12, tzinfo=dt.UTC))
    assert len(alice.send("coffee $50")) == 1
    assert "⚠️ You have used 90%" in texts(alice.send("coffee $40"))


def test_budget_one_big_expense_gives_one_alert(alice) -> None:
    alice.send("/budget 100")
    replies = alice.send("laptop $150")
    assert "🚨" in texts(replies) and "⚠️" not in texts(replies)


def test_budget_threshold_setting_and_progress(alice) -> None:
    alice.send("/settings threshold 50")
    alice.send("/budget 100")
    assert "⚠️ You have used 60%" in texts(alice.send("coffee $60"))
    text = texts(alice.send("/budget"))
    assert "▓▓▓▓▓▓░░░░ 60%" in text and "Spent $60.00 of $100.00, $40.00 left." in text


def test_budget_errors_and_removal(alice) -> None:
    assert "greater than zero" in texts(alice.send("/budget 0"))
    assert "kept in your currency, USD" in texts(alice.send("/budget 100 eur"))
    alice.send("/budget 100")
    assert "removed" in texts(alice.send("/budget off"))
    assert len(alice.send("laptop $500")) == 1
