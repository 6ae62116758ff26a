"""Buttons: forged, stale and malformed presses never act and never raise; /list paging and delete."""
from __future__ import annotations

import pytest
from expenses_helpers import audit, rows, texts

from framework.callbacks import pack_owner

STALE = "This button is no longer valid."
NOT_YOURS = "This button is not for you."


def _buttons():
    from plugins.expenses import conversation, views

    return views, conversation


def test_another_users_buttons_are_refused_before_the_plugin(alice, bob) -> None:
    """Alice's own buttons, pressed by Bob (as any member of a group could press them)."""
    saved = alice.send("coffee $5")[0]
    bob.send("hello")
    for row in saved.buttons:
        for label, data in row:
            assert texts(bob.press(data=data)) == NOT_YOURS, label
    [expense] = rows(1001)
    assert expense.category.name == "Food" and not expense.is_deleted
    assert audit("expense_deleted") == [] and audit("expense_edited") == []
    assert "🗑 Deleted" in texts(alice.press("↩️ Undo"))  # the owner still can


def test_another_users_expense_cannot_be_touched_with_forged_ids(alice, bob) -> None:
    """Bob packs his own buttons with Alice's ids: they pass the owner check, not the plugin's."""
    views, _ = _buttons()
    alice.send("coffee $5")
    expense_id = rows(1001)[0].id
    bob.send("hello")
    for data in (views.UndoExpense(expense_id=expense_id), views.SetCategory(expense_id=expense_id, category_id=2),
                 views.DeleteListed(expense_id=expense_id, page=0, period="2025-03"),
                 views.EditExpense(expense_id=expense_id)):
        assert STALE in texts(bob.press(data=data)), data
    [expense] = rows(1001)
    assert expense.category.name == "Food" and not expense.is_deleted
    assert audit("expense_deleted") == [] and audit("expense_edited") == []


def test_another_users_deleted_expense_cannot_be_restored(alice, bob) -> None:
    views, _ = _buttons()
    alice.send("coffee $5")
    alice.press("↩️ Undo")
    expense_id = rows(1001, include_deleted=True)[0].id
    assert STALE in texts(bob.press(data=views.RestoreExpense(expense_id=expense_id)))
    assert rows(1001) == []


def test_another_users_category_cannot_be_used(alice, bob) -> None:
    views, conversation = _buttons()
    alice.send("/categories add Secret 🔒")
    bob.send("coffee $5")
    secret_id = next(c.id for c in _categories() if c.name == "Secret")
    bob_expense = rows(2002)[0].id
    assert STALE in texts(bob.press(data=views.SetCategory(expense_id=bob_expense, category_id=secret_id)))
    bob.send("/add 5")
    assert STALE in texts(bob.press(data=conversation.AddCategory(category_id=secret_id)))


def _categories():
    from framework import connection_scope
    from plugins.expenses.models import Category

    with connection_scope():
        return list(Category.select())


ME = pack_owner(1001)  # Alice as the owner field of button data


@pytest.mark.parametrize("data", [
    "exu", "exu:", f"exu:{ME}", f"exu:{ME}:", f"exu:{ME}:abc", f"exu:{ME}:-1", f"exu:{ME}:99999999999999999999999",
    f"exu:{ME}:1:2", "exu:ZZ:1", "exu:zzzzzzzzzzzzzz:1", f"exc:{ME}:1", f"exc:{ME}:x:y", f"exd:{ME}:1",
    f"exd:{ME}:1:x:2025-03", f"exd:{ME}:1:0:2025-13", f"exl:{ME}:0:nonsense", f"exl:{ME}:-1:2025-03", f"exl:{ME}:x",
    f"exl:{ME}:0:0001-01-01", f"exl:{ME}:0:9999-12-01..9999-12-31", f"exl:{ME}:0:0001-01-01..0001-01-31",
    f"exd:{ME}:1:0:0001-01", f"exr:{ME}:0", f"exe:{ME}:1:2", f"exs:{ME}:x:1", f"exs:{ME}:t:", f"exs:{ME}:d:%3A",
    f"add:{ME}:ok", f"addc:{ME}:1", f"addd:{ME}:0001-01-01", f"addf:{ME}:colour", "add:", "add", "nosuchprefix:1",
    ":", "::", "a" * 200,
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
    assert next_data.startswith(f"exl:{ME}:")                # the page button carries its owner
    replies = bob.press(data=next_data)
    assert NOT_YOURS in texts(replies) and [r.method for r in replies] == ["answer_callback_query"]
    assert "$9.00" not in texts(replies) and "$1.00" not in texts(replies)


def test_list_of_an_empty_period_and_bad_period(alice) -> None:
    assert "No expenses" in texts(alice.send("/list 2020-01"))
    assert "could not read that period" in texts(alice.send("/list someday"))


def test_deleted_expenses_vanish_from_list_and_stats(alice) -> None:
    alice.send("coffee $5")
    alice.send("taxi $7")
    alice.send("/undo")
    assert "taxi" not in texts(alice.send("/list"))
    assert "Total: $5.00 (expenses: 1)" in texts(alice.send("/stats month"))
