"""Quick add through the pipeline: saving, undo/restore, one-tap correction and learning."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from expenses_helpers import START, audit, rows, texts


def test_quick_add_saves_with_undo_and_category_buttons(alice) -> None:
    replies = alice.send("taxi 12.50 eur")
    assert texts(replies) == "✅ Saved: €12.50 · 🚗 Transport · taxi · 2025-03-12"
    buttons = replies[-1].button_texts
    assert buttons[0] == "↩️ Undo" and "✓ 🚗 Transport" in buttons and "🍔 Food" in buttons
    [expense] = rows(1001)
    assert (Decimal(expense.amount), expense.currency, expense.source) == (Decimal("12.50"), "EUR", "nlp")
    [entry] = audit("expense_added")
    assert entry.details == {"amount": "12.50", "currency": "EUR", "category": "Transport", "source": "nlp",
                             "original_message": "taxi 12.50 eur"}


@pytest.mark.parametrize(("text", "amount", "currency", "category", "date"), [
    ("coffee $5", "5.00", "USD", "Food", "2025-03-12"),
    ("5 coffee", "5.00", "USD", "Food", "2025-03-12"),
    ("lunch 8,90€ yesterday", "8.90", "EUR", "Food", "2025-03-11"),
    ("обед 350₽", "350.00", "RUB", "Food", "2025-03-12"),
    ("продукты 1 200 руб", "1200.00", "RUB", "Food", "2025-03-12"),
    ("$1,234.56 laptop", "1234.56", "USD", "Shopping", "2025-03-12"),
])
def test_issue_examples(alice, text, amount, currency, category, date) -> None:
    assert "Saved" in texts(alice.send(text))
    [expense] = rows(1001)
    assert (f"{Decimal(expense.amount):.2f}", expense.currency, expense.category.name,
            expense.expense_date.isoformat()) == (amount, currency, category, date)


@pytest.mark.parametrize("text", ["I have 3 cats", "see you at 5", "hello", "taxi at 5", "in 10 minutes",
                                  "how much is coffee $5?"])
def test_chat_is_left_alone(alice, text: str) -> None:
    assert alice.send(text) == []
    assert rows(1001) == []


def test_invalid_amount_with_marker_gets_a_clear_error(alice) -> None:
    assert "greater than zero" in texts(alice.send("coffee $0"))
    assert "at most 2 decimal places" in texts(alice.send("coffee $1.999"))
    assert rows(1001) == []


def test_nlp_off_leaves_text_alone(alice) -> None:
    alice.send("/settings nlp off")
    assert alice.send("coffee $5") == []
    alice.send("/settings nlp on")
    assert "Saved" in texts(alice.send("coffee $5"))


def test_quick_add_uses_the_users_timezone(alice, bot) -> None:
    alice.send("/settings timezone Asia/Tokyo")
    bot.set_time(dt.datetime(2025, 3, 12, 20, 0, tzinfo=dt.UTC))  # 05:00 on the 13th in Tokyo
    alice.send("coffee $3")
    assert rows(1001)[0].expense_date == dt.date(2025, 3, 13)


def test_default_currency_follows_settings(alice) -> None:
    alice.send("/settings currency EUR")
    alice.send("coffee 4")
    assert rows(1001)[0].currency == "EUR"


def test_undo_button_then_restore_within_a_day(alice, bot) -> None:
    alice.send("coffee $5")
    replies = alice.press("↩️ Undo")
    assert "🗑 Deleted: $5.00" in texts(replies)
    assert rows(1001) == []
    bot.advance(hours=23)
    assert "Restored" in texts(alice.press("↩️ Restore"))
    assert len(rows(1001)) == 1
    assert [e.action for e in audit("expense_deleted") + audit("expense_restored")] == [
        "expense_deleted", "expense_restored"]


def test_restore_after_24_hours_is_refused(alice, bot) -> None:
    alice.send("coffee $5")
    alice.press("↩️ Undo")
    bot.advance(hours=24, minutes=1)
    assert "no longer valid" in texts(alice.press("↩️ Restore"))
    assert rows(1001) == []


def test_undo_command_deletes_the_last_expense(alice, bot) -> None:
    assert "no expense to undo" in texts(alice.send("/undo"))
    alice.send("coffee $5")
    bot.advance(minutes=1)
    alice.send("taxi $9")
    assert "taxi" in texts(alice.send("/undo"))
    assert [e.note for e in rows(1001)] == ["coffee"]


def test_one_tap_correction_is_learned(alice) -> None:
    alice.send("flowers $20")
    assert rows(1001)[0].category.name == "Other"
    replies = alice.press("🛍️ Shopping")
    assert "✓ 🛍️ Shopping" in alice.last.button_texts or "✓ 🛍️ Shopping" in replies[-1].button_texts
    assert rows(1001)[0].category.name == "Shopping"
    assert "Saved" in texts(alice.send("flowers 15"))  # learned word: no currency marker needed now
    assert rows(1001)[-1].category.name == "Shopping"
    assert audit("expense_edited")[0].details["category"] == "Shopping"


def test_learning_beats_keywords(alice) -> None:
    alice.send("coffee $5")
    alice.press("⚕️ Health")
    alice.send("coffee $4")
    assert rows(1001)[-1].category.name == "Health"


def test_auto_categorize_off_files_under_other(alice) -> None:
    alice.send("/settings autocategorize off")
    alice.send("taxi $9")
    assert rows(1001)[0].category.name == "Other"


def test_quick_add_keeps_clock_date_of_start(alice) -> None:
    alice.send("coffee $1")
    assert rows(1001)[0].created_at == START


def test_non_expense_text_is_passed_to_the_next_handler(bot, alice) -> None:
    from framework.registry import TextHandler

    seen: list[str] = []

    def next_plugin(ctx) -> bool:
        seen.append(ctx.text)
        return True

    bot.app.routes.texts.append(TextHandler("core", next_plugin, priority=-100))
    alice.send("I have 3 cats")
    alice.send("coffee $5")
    alice.send("hello")
    assert seen == ["I have 3 cats", "hello"]


def test_quick_add_off_leaves_plain_text_alone(bot_factory, database: str) -> None:
    """An operator who sets ``quick_add: false`` wants only /add to record expenses."""
    bot = bot_factory(plugins={"expenses": {"quick_add": False}}, database=database)
    bot.set_time(START)
    alice = bot.user(1001, language_code="en")
    assert "Saved" not in texts(alice.send("coffee $5"))
    assert rows(1001) == []
