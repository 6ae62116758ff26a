"""The /add conversation through the real pipeline: every step, edit, cancel, bad input."""
from __future__ import annotations

from decimal import Decimal

import pytest
from expenses_helpers import HELP_HINT, amounts, audit, rows, texts


def add_until(alice, state: str) -> None:
    """Walk /add forward until ``state``."""
    alice.send("/add")
    if state == "AWAITING_AMOUNT":
        return
    alice.send("12.50")
    if state == "AWAITING_CATEGORY":
        return
    alice.press("🍔 Food")
    if state == "AWAITING_NOTE":
        return
    alice.send("lunch")
    if state == "AWAITING_CONFIRMATION":
        return
    alice.press("✏️ Edit")


def test_full_flow_saves_and_audits(alice) -> None:
    replies = alice.send("/add")
    assert "How much" in texts(replies)
    replies = alice.send("12.50")
    assert "choose a category" in texts(replies)
    assert "🍔 Food" in replies[-1].button_texts and "✖️ Cancel" in replies[-1].button_texts
    replies = alice.press("🍔 Food")
    assert "Add a note" in texts(replies)
    assert "Skip ➡️" in replies[-1].button_texts
    replies = alice.send("business lunch")
    summary = texts(replies)
    assert "$12.50" in summary and "🍔 Food" in summary and "business lunch" in summary
    assert replies[-1].button_texts == ["✅ Confirm", "✏️ Edit", "✖️ Cancel"]
    replies = alice.press("✅ Confirm")
    assert "✅ Saved: $12.50 · 🍔 Food · business lunch · 2025-03-12" in texts(replies)
    [expense] = rows(1001)
    assert Decimal(expense.amount) == Decimal("12.50") and isinstance(expense.amount, Decimal)
    assert (expense.source, expense.note, expense.currency) == ("manual", "business lunch", "USD")
    [entry] = audit("expense_added")
    assert entry.details["amount"] == "12.50"
    assert entry.details["category"] == "Food"
    assert entry.details["source"] == "manual"
    assert entry.details["original_message"] == "/add"


def test_amount_argument_skips_the_amount_step(alice) -> None:
    replies = alice.send("/add 7,20 eur")
    assert "€7.20: choose a category." in texts(replies)
    alice.press("🚗 Transport")
    alice.press("Skip ➡️")
    alice.press("✅ Confirm")
    [expense] = rows(1001)
    assert (Decimal(expense.amount), expense.currency, expense.note) == (Decimal("7.20"), "EUR", None)


@pytest.mark.parametrize("bad", ["0", "-5", "abc", "1e400", "NaN", "inf", "12.345", "1000000001"])
def test_bad_amount_keeps_the_state(alice, bad: str) -> None:
    alice.send("/add")
    replies = alice.send(bad)
    assert "How much" in texts(replies)
    assert any(word in texts(replies) for word in ("not an amount", "greater than zero", "too much", "decimal"))
    replies = alice.send("3")
    assert "choose a category" in texts(replies)


def test_bad_amount_argument_asks_again(alice) -> None:
    replies = alice.send("/add -5")
    assert "greater than zero" in texts(replies)
    assert "choose a category" in texts(alice.send("5"))


def test_yen_has_no_decimals(alice) -> None:
    assert "at most 0 decimal places" in texts(alice.send("/add 100.5 JPY"))
    assert "¥100: choose a category." in texts(alice.send("100 JPY"))


def test_category_by_typing_its_name_and_unknown_name(alice) -> None:
    alice.send("/add 5")
    assert "use the buttons" in texts(alice.send("nonsense"))
    assert "Add a note" in texts(alice.send("transport"))


@pytest.mark.parametrize("state", ["AWAITING_AMOUNT", "AWAITING_CATEGORY", "AWAITING_NOTE",
                                   "AWAITING_CONFIRMATION", "EDITING_EXPENSE"])
def test_cancel_command_from_every_state(alice, state: str) -> None:
    add_until(alice, state)
    assert "Cancelled." in texts(alice.send("/cancel"))
    assert texts(alice.send("12")) == HELP_HINT  # no conversation left to take the text: the core's hint
    assert rows(1001) == []


@pytest.mark.parametrize("state", ["AWAITING_AMOUNT", "AWAITING_CATEGORY", "AWAITING_NOTE",
                                   "AWAITING_CONFIRMATION", "EDITING_EXPENSE"])
def test_cancel_button_from_every_state(alice, state: str) -> None:
    add_until(alice, state)
    assert "Cancelled." in texts(alice.press("✖️ Cancel"))
    assert rows(1001) == []


def test_edit_every_field_then_confirm(alice) -> None:
    add_until(alice, "EDITING_EXPENSE")
    alice.press("💵 Amount")
    assert "greater than zero" in texts(alice.send("0"))
    assert "$20.00" in texts(alice.send("20"))
    alice.press("✏️ Edit")
    alice.press("🏷 Category")
    assert "🛍️ Shopping" in texts(alice.press("🛍️ Shopping"))
    alice.press("✏️ Edit")
    alice.press("📝 Note")
    assert "Note: gift" in texts(alice.send("gift"))
    alice.press("✏️ Edit")
    alice.press("📅 Date")
    assert "could not read that date" in texts(alice.send("someday"))
    assert "2025-03-11" in texts(alice.press("Yesterday"))
    alice.press("✏️ Edit")
    alice.press("📅 Date")
    assert "2025-03-07" in texts(alice.send("friday"))
    alice.press("✅ Confirm")
    [expense] = rows(1001)
    assert (Decimal(expense.amount), expense.category.name, expense.note, expense.expense_date.isoformat()) == (
        Decimal("20.00"), "Shopping", "gift", "2025-03-07")


def test_back_from_edit_menu_returns_to_confirmation(alice) -> None:
    add_until(alice, "EDITING_EXPENSE")
    replies = alice.press("⬅️ Back")
    assert "Save this expense?" in texts(replies)
    alice.press("✅ Confirm")
    assert amounts(1001) == [Decimal("12.50")]


def test_archived_category_is_caught_at_confirmation(alice) -> None:
    alice.send("/categories add Coffee ☕")
    alice.send("/add 3")
    alice.press("☕ Coffee")
    alice.press("Skip ➡️")
    alice.send("/categories archive Coffee")
    replies = alice.press("✅ Confirm")
    assert "no longer valid" in texts(replies)
    assert rows(1001) == []


def test_stale_conversation_button_after_the_end(alice) -> None:
    alice.send("/add 5")
    alice.press("🍔 Food")
    alice.press("Skip ➡️")
    alice.press("✅ Confirm")
    from plugins.expenses.conversation import AddStep, Step

    replies = alice.press(data=AddStep(step=Step.OK))
    assert "This button is no longer valid." in texts(replies)
    assert len(rows(1001)) == 1


def test_old_category_button_in_a_later_state_is_stale(alice) -> None:
    alice.send("/add 5")
    alice.press("🍔 Food")
    from plugins.expenses.conversation import AddCategory

    assert "no longer valid" in texts(alice.press(data=AddCategory(category_id=2)))
    from framework.callbacks import pack_owner

    assert "no longer valid" in texts(alice.press(data=f"addc:{pack_owner(1001)}:not-a-number"))


def test_add_restarts_an_unfinished_conversation(alice) -> None:
    add_until(alice, "AWAITING_NOTE")
    assert "How much" in texts(alice.send("/add"))
    assert "choose a category" in texts(alice.send("4"))


def test_edit_saved_expense_from_list(alice) -> None:
    alice.send("coffee $5")
    replies = alice.send("/list")
    alice.press("✏️ 1", message=replies[-1])
    alice.press("💵 Amount")
    alice.send("6")
    replies = alice.press("✅ Confirm")
    assert "✅ Updated: $6.00" in texts(replies)
    [expense] = rows(1001)
    assert Decimal(expense.amount) == Decimal("6.00")
    [entry] = audit("expense_edited")
    assert entry.details["before"]["amount"] in ("5.00", "5")


def test_russian_user_gets_russian_texts(bot) -> None:
    ivan = bot.user(3003, first_name="Иван", language_code="ru")
    assert "Сколько потратили" in texts(ivan.send("/add"))
    replies = ivan.send("350")
    assert "выберите категорию" in texts(replies)
    assert "🍔 Еда" in replies[-1].button_texts
    ivan.press("🍔 Еда")
    ivan.press("Пропустить ➡️")
    assert "Сохранено" in texts(ivan.press("✅ Сохранить"))
