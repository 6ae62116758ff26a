"""Buttons: forged, stale and malformed presses never act and never raise; /list paging and delete."""
from __future__ import annotations

import pytest
from expenses_helpers import audit, rows, texts

STALE = "This button is no longer valid."


def test_another_users_expense_cannot_be_touched(alice, bob) -> None:
    alice.send("coffee $5")
    expense_id = rows(1001)[0].id
    bob.send("hello")
    for data in (f"exp:undo:{expense_id}", f"exp:cat:{expense_id}:2", f"exp:del:{expense_id}:0:2025-03",
                 f"exp:edit:{expense_id}"):
        assert STALE in texts(bob.press(data=data)), data
    [expense] = rows(1001)
    assert expense.category.name == "Food" and not expense.is_deleted
    assert audit("expense_deleted") == [] and audit("expense_edited") == []


def test_another_users_deleted_expense_cannot_be_restored(alice, bob) -> None:
    alice.send("coffee $5")
    alice.press("↩️ Undo")
    expense_id = rows(1001, include_deleted=True)[0].id
    assert STALE in texts(bob.press(data=f"exp:res:{expense_id}"))
    assert rows(1001) == []


def test_another_users_category_cannot_be_used(alice, bob) -> None:
    alice.send("/categories add Secret 🔒")
    bob.send("coffee $5")
    secret_id = next(c.id for c in _categories() if c.name == "Secret")
    bob_expense = rows(2002)[0].id
    assert STALE in texts(bob.press(data=f"exp:cat:{bob_expense}:{secret_id}"))
    bob.send("/add 5")
    assert STALE in texts(bob.press(data=f"add:cat:{secret_id}"))


def _categories():
    from framework import connection_scope
    from plugins.expenses.models import Category

    with connection_scope():
        return list(Category.select())


@pytest.mark.parametrize("data", [
    "exp", "exp:", "exp:undo", "exp:undo:", "exp:undo:abc", "exp:undo:-1", "exp:undo:99999999999999999999999",
    "exp:cat:1", "exp:cat:x:y", "exp:zzz:1", "exp:del:1", "exp:del:1:x:2025-03", "exp:del:1:0:2025-13",
    "exp:pg:0:nonsense", "exp:pg:-1:2025-03", "exp:pg:x", "exp:res:0", "exp:edit:1:2", "exp:rp:x", "exp:rd:",
    "add:ok", "add:cat:1", "add:", "add", "nosuchprefix:1",
])
def test_malformed_callbacks_are_stale(alice, data: str) -> None:
    alice.send("coffee $5")
    replies = alice.press(data=data)
    assert STALE in texts(replies)
    assert "Something went wrong" not in texts(replies)
    assert len(rows(1001)) == 1


def test_list_pages_and_deletes(alice, bot) -> None:
    for n in range(1, 8):
        alice.send(f"coffee ${n}")
        bot.advance(minutes=1)
    replies = alice.send("/list")
    page = replies[-1]
    assert "Expenses for 2025-03-01 – 2025-03-31: 7" in page.text and "Page 1 of 2" in page.text
    assert "$7.00" in page.text and "$1.00" not in page.text
    assert page.button_texts[-1] == "Next ▶️"
    replies = alice.press("Next ▶️")
    assert "Page 2 of 2" in texts(replies) and "$1.00" in texts(replies)
    assert "◀️ Previous" in alice.last.button_texts or "◀️ Previous" in replies[-1].button_texts
    replies = alice.press("🗑 6")
    assert "🗑 Deleted: $2.00" in texts(replies)
    assert len(rows(1001)) == 6
    alice.press("↩️ Restore")
    assert len(rows(1001)) == 7


def test_another_users_list_pages_cannot_be_turned(alice, bob) -> None:
    for n in range(1, 8):
        alice.send(f"coffee ${n}")
    bob.send("taxi $9")
    next_data = alice.send("/list")[-1].buttons[-1][-1][1]
    assert next_data.startswith("exp:pg:1001:")
    replies = bob.press(data=next_data)
    assert STALE in texts(replies) and [r.method for r in replies] == ["answer_callback_query"]
    assert "$9.00" not in texts(replies) and "$1.00" not in texts(replies)


def test_list_of_an_empty_period_and_bad_period(alice) -> None:
    assert "No expenses" in texts(alice.send("/list 2020-01"))
    assert "could not read that period" in texts(alice.send("/list someday"))


def test_deleted_expenses_vanish_from_list_and_stats(alice) -> None:
    alice.send("coffee $5")
    alice.send("taxi $7")
    alice.send("/undo")
    assert "taxi" not in texts(alice.send("/list"))
    assert "Total: $5.00 (expenses: 1)" in texts(alice.send("/stats"))
