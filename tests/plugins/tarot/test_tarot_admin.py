"""Admin commands through the core's access control, and a Russian-speaking user's reading."""
from __future__ import annotations

import datetime as dt
from typing import Any

from framework import connection_scope
from plugins.tarot import ledger
from plugins.tarot.models import Transaction

START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
ADMIN = 900


def test_admins_grant_credits_and_read_a_ledger_others_cannot(bot_factory: Any, database: str) -> None:
    bot = bot_factory(plugins={"tarot": {}}, database=database, admins=(ADMIN,))
    bot.set_time(START)
    alice, admin = bot.user(1), bot.user(ADMIN)
    alice.send("/balance")
    assert alice.send("/tarot_grant 1 5")[-1].text == "I don't know /tarot_grant. See /help."  # no reveal
    assert alice.send("/tarot_ledger 1")[-1].text == "I don't know /tarot_ledger. See /help."
    assert admin.send("/tarot_grant 1 5 goodwill")[-1].text == "Granted 5 credits to 1. Their balance: 8."
    assert alice.send("/balance")[0].text.startswith("💳 You have 8 credits.")
    lines = admin.send("/tarot_ledger 1")[-1].text.splitlines()
    assert lines[0] == "Ledger of 1, balance 8:"
    assert [line.split()[3:6] for line in lines[1:]] == [["bonus", "+5", "→"], ["bonus", "+3", "→"]]
    assert "/tarot_grant" in admin.send("/tarot_grant 1 0")[-1].text  # refused with the usage line, nothing granted
    with connection_scope():
        assert Transaction.get(Transaction.amount == 5).metadata == {"by": ADMIN, "reason": "goodwill"}
        assert ledger.verify() == []


def test_a_russian_speaker_reads_in_russian(bot: Any) -> None:
    bot.set_time(START)
    ivan = bot.user(7, language_code="ru")
    replies = ivan.send("/reading three Что меня ждёт?")
    assert replies[0].text == "🎁 Добро пожаловать! Бесплатные кредиты для первых раскладов: 3."
    assert replies[1].text.startswith("🔮 Прошлое · Настоящее · Будущее (−2)\n\n1. Прошлое — ")
    body = "\n\n".join(r.text for r in replies[2:])
    assert "Вы спросили: «Что меня ждёт?»" in body and "В целом:" in body
    assert ivan.send("/balance")[0].text.startswith("💳 У вас 1 кредит.")
