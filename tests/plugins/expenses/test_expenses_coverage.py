"""Coverage through the real update pipeline: quick-add phrasings, the chart PNG, the
text-only fallback, the deletion audit and Russian replies, on both databases."""
from __future__ import annotations

import struct
import sys
import zlib
from decimal import Decimal

import pytest
from expenses_helpers import audit, rows, texts
from test_nlp import POSITIVES

from plugins.expenses.charts import PNG_SIGNATURE

EN_ID, RU_ID = 1001, 3003
# "продукты 1,234" parses to 1.234 RUB, which the bot refuses (too precise for RUB): see the test below.
TOO_PRECISE = {"продукты 1,234"}
SAVED = [case for case in POSITIVES if case[0] not in TOO_PRECISE]


def add(user, text: str, saved: str = "Saved") -> None:
    assert saved in texts(user.send(text)), text


@pytest.mark.parametrize(("text", "lang", "amount", "currency", "category", "date"), SAVED)
def test_quick_add_phrasings_through_the_bot(bot, text, lang, amount, currency, category, date) -> None:
    telegram_id = RU_ID if lang == "ru" else EN_ID
    user = bot.user(telegram_id, first_name="Tester", language_code=lang)
    if lang == "ru":  # test_nlp parses Russian phrasings with RUB as the default currency
        assert "Сохранено" in texts(user.send("/settings currency RUB"))
    replies = user.send(text)
    assert ("Сохранено" if lang == "ru" else "Saved") in texts(replies), (text, texts(replies))
    [expense] = rows(telegram_id)
    assert (Decimal(expense.amount), expense.currency, expense.category.name, expense.expense_date) == (
        Decimal(amount), currency, category, date)


def test_too_precise_rub_amount_is_refused_not_saved(bot) -> None:
    assert len(SAVED) >= 30 and len(SAVED) == len(POSITIVES) - len(TOO_PRECISE)
    ivan = bot.user(RU_ID, first_name="Иван", language_code="ru")
    ivan.send("/settings currency RUB")
    assert "не больше 2 знаков после запятой" in texts(ivan.send("продукты 1,234"))
    assert rows(RU_ID, include_deleted=True) == []


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, payload) chunks, checking every CRC."""
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        payload = data[pos + 8:pos + 8 + length]
        assert len(payload) == length, kind
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + payload) & 0xFFFFFFFF == crc, kind
        chunks.append((kind, payload))
        pos += 12 + length
    assert pos == len(data)
    return chunks


def test_stats_chart_is_a_structurally_valid_png(alice) -> None:
    pytest.importorskip("matplotlib", reason="charts need matplotlib (pip install plugbot[charts])")
    add(alice, "coffee $5")
    add(alice, "taxi $30")
    add(alice, "laptop $950")
    [photo] = [r for r in alice.send("/stats") if r.method == "send_photo"]
    chunks = png_chunks(photo.photo)
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    assert kinds.count(b"IHDR") == 1 and kinds.count(b"IEND") == 1
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width > 0 and height > 0
    pixels = zlib.decompress(b"".join(payload for kind, payload in chunks if kind == b"IDAT"))
    assert len(pixels) > height  # one filter byte per row at least


def test_stats_is_text_only_without_matplotlib(alice, monkeypatch) -> None:
    add(alice, "coffee $5")
    # A None entry in sys.modules makes the import inside charts.render raise ImportError.
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    replies = alice.send("/stats")
    assert [r.method for r in replies if r.method == "send_photo"] == []
    assert "Total: $5.00 (expenses: 1)" in texts(replies)


def test_delete_writes_audit_with_seed_details(alice) -> None:
    add(alice, "taxi 12.50 eur")
    alice.send("/list")
    assert "Deleted" in texts(alice.press("🗑 1"))
    assert rows(EN_ID) == []
    [deleted] = rows(EN_ID, include_deleted=True)
    [entry] = audit("expense_deleted")
    assert entry.details["amount"] == "12.50"
    assert entry.details["currency"] == "EUR"
    assert entry.details["category"] == "Transport"
    assert entry.details["source"] == "nlp" == deleted.source


def test_russian_user_gets_russian_stats_budget_and_export(bot) -> None:
    ivan = bot.user(RU_ID, first_name="Иван", language_code="ru")
    add(ivan, "обед 350₽", saved="Сохранено")
    stats = texts(ivan.send("/stats"))
    assert "Статистика за" in stats and "Итого:" in stats
    assert "Statistics for" not in stats and "Total:" not in stats
    budget = texts(ivan.send("/budget"))
    assert "Бюджет на месяц не задан" in budget and "No monthly budget" not in budget
    budget = texts(ivan.send("/budget 50000"))
    assert "Бюджет на месяц:" in budget and "Monthly budget" not in budget
    [doc] = ivan.send("/export")
    assert doc.method == "send_document"
    assert "Расходы за" in doc.text and "Expenses for" not in doc.text
    empty = texts(ivan.send("/export 2020-01"))
    assert "выгружать нечего" in empty and "No expenses to export" not in empty


def test_system_categories_carry_the_issues_emoji_and_a_color(bot) -> None:
    from framework import connection_scope
    from plugins.expenses.models import Category

    bot.user(1001, language_code="en").send("coffee 5")  # a full update: migrations and seed in place
    with connection_scope():
        seeded = {c.name: (c.emoji, c.color) for c in Category.select().where(Category.is_system)}
    assert {name: emoji for name, (emoji, _) in seeded.items()} == {
        "Food": "🍔", "Transport": "🚗", "Entertainment": "🎬", "Bills": "🏠", "Shopping": "🛍️",
        "Health": "⚕️", "Other": "📌"}
    assert all(color for _, color in seeded.values())


def test_an_edit_moves_updated_at_and_keeps_created_at(bot) -> None:
    user = bot.user(1001, language_code="en")
    user.send("coffee $5")
    [before] = rows(1001)
    bot.advance(hours=2)
    replies = user.send("/list")
    user.press("✏️ 1", message=replies[-1])
    user.press("💵 Amount")
    user.send("6")
    user.press("✅ Confirm")
    [after] = rows(1001)
    assert after.created_at == before.created_at
    assert after.updated_at > before.updated_at
