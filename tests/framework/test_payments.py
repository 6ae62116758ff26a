"""Telegram Payments through the core: invoices, pre-checkout answers (on workers of their own,
so a busy chat cannot make them late), successful and refunded payments (the latter routed from
the raw update), synchronous Bot API calls, and the fake Telegram's payment methods."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import plugins_for_tests
import pytest
from plugins_for_tests import shop

from framework import User, connection_scope
from framework.testing import eventually

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    plugins_for_tests.reset()


@pytest.fixture
def bot(bot_factory: Any) -> Any:
    return bot_factory({"shop": {"module": "plugins_for_tests.shop"}})


def test_an_invoice_for_stars_is_recorded_and_paid(bot: Any) -> None:
    user = bot.user(7)
    user.send("/buy")
    invoice = bot.telegram.invoices[-1]
    assert (invoice.method, invoice.chat_id, invoice.params["currency"], invoice.params["provider_token"]) == (
        "send_invoice", 7, "XTR", "")
    assert [(p.label, p.amount) for p in invoice.params["prices"]] == [("A star", 25)]
    assert [r.text for r in user.pay(invoice, "ch-1")] == ["paid 25 XTR: ch-1"]


def test_the_pre_checkout_answer_says_no_to_a_forged_invoice(bot: Any) -> None:
    user = bot.user(7)
    user.send("/buy")
    invoice = bot.telegram.invoices[-1]
    assert user.pre_checkout(invoice) == (True, None)
    assert user.pre_checkout(invoice, amount=1) == (False, "This invoice is not valid.")
    assert bot.user(8).pre_checkout(invoice) == (False, "This invoice is not valid.")  # another user's payload


def test_a_refunded_payment_reaches_its_handler_from_the_raw_update(bot: Any) -> None:
    user = bot.user(7)
    user.send("/buy")
    assert [r.text for r in user.refunded_payment(bot.telegram.invoices[-1], "ch-9")] == ["refunded ch-9"]


def test_refunds_and_links_through_the_fake_bot_api(bot: Any) -> None:
    user = bot.user(7)
    url = user.send("/link")[-1].text
    link = bot.telegram.links[url]
    assert (link.params["subscription_period"], link.params["currency"], link.params["provider_token"]) == (
        2592000, "XTR", "")
    assert [(p.label, p.amount) for p in link.params["prices"]] == [("Monthly star", 25)]
    assert user.send("/refund ch-1")[-1].text == "refunded"
    assert user.send("/refund ch-1")[-1].text == "refused: Bad Request: CHARGE_ALREADY_REFUNDED"
    bot.telegram.refund_failures["ch-2"] = "BALANCE_TOO_LOW"
    assert user.send("/refund ch-2")[-1].text == "refused: Bad Request: BALANCE_TOO_LOW"


def test_a_pre_checkout_query_is_answered_while_the_chat_is_busy(bot_factory: Any) -> None:
    # PostgreSQL: SQLite lets one transaction write at a time, so a stuck handler there stops every writer.
    bot = bot_factory({"shop": {"module": "plugins_for_tests.shop"}}, config={"workers": 1}, database="postgres")
    user = bot.user(7)
    user.send("/buy")
    shop.busy.clear()
    try:
        bot.app.feed(user.message_update("/slow"))  # the only worker is now stuck in this chat
        bot.app.feed(user.message_update("/buy"))
        update = {"update_id": bot.next_update_id(), "pre_checkout_query": {
            "id": "q-busy", "from": user.profile, "currency": "XTR", "total_amount": 25,
            "invoice_payload": "star:7"}}
        bot.app.feed(update)
        assert eventually(lambda: "q-busy" in bot.telegram.pre_checkout_answers, timeout=5)
        assert bot.telegram.pre_checkout_answers["q-busy"] == (True, None)
        assert not any(r.text == "slow done" for r in bot.telegram.calls)
    finally:
        shop.busy.set()
    assert bot.app.join(timeout=10)


def test_payments_are_never_rate_limited_and_a_settled_payment_passes_every_gate(bot_factory: Any) -> None:
    bot = bot_factory({"shop": {"module": "plugins_for_tests.shop"}}, config={"ratelimit": {"messages_per_minute": 2}})
    user = bot.user(7)
    user.send("/buy")
    invoice = bot.telegram.invoices[-1]
    user.send("/buy")
    user.send("/buy")
    assert len(bot.telegram.invoices) == 2  # the third /buy was over the limit
    assert user.pre_checkout(invoice) == (True, None)
    assert [r.text for r in bot.process(user.payment_update(invoice, "ch-limited"))] == ["paid 25 XTR: ch-limited"]
    with connection_scope():
        target = User.get(User.telegram_id == 7)
    bot.app.access.ban(target, by=1, reason="test")
    assert [r.text for r in bot.process(user.payment_update(invoice, "ch-banned"))] == ["paid 25 XTR: ch-banned"]
    assert [r.text for r in user.refunded_payment(invoice, "ch-banned")] == ["refunded ch-banned"]
    assert [r.text for r in user.send("/buy")] == ["You are blocked from using this bot."]  # the rest is gated
