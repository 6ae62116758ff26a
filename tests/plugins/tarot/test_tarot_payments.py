"""Telegram Stars through the pipeline: packs, pre-checkout checks, exactly-once crediting (in
parallel and after a restart), refunds by an admin and by Telegram, subscriptions, reconciliation."""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from framework import connection_scope
from plugins.tarot import ledger
from plugins.tarot.models import Subscription, Transaction
from plugins.tarot.payments import BuyPack

START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
ADMIN = 900


def _invoice(bot: Any, user: Any, pack: str = "10 credits — 50 ⭐") -> Any:
    user.send("/buy")
    user.press(pack)
    return bot.telegram.invoices[-1]


def _purchases() -> list[tuple[str, int, str, str | None]]:
    with connection_scope():
        return [(t.type, t.amount, t.status, t.payment_reference)
                for t in Transaction.select().where(Transaction.type.in_(("purchase", "subscription", "refund")))
                .order_by(Transaction.id)]


def test_a_pack_is_sold_for_stars_and_credited(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    invoice = _invoice(bot, alice)
    params = invoice.params
    assert (params["currency"], params["provider_token"], [p.amount for p in params["prices"]]) == ("XTR", "", [50])
    assert params["invoice_payload"] == "tarot:p:small:10:1"
    assert [r.text for r in alice.pay(invoice, "ch-1")] == ["✨ Thank you! 10 credits added. Balance: 13."]
    assert _purchases() == [("purchase", 10, "completed", "ch-1")]
    assert alice.send("/balance")[0].text.startswith("💳 You have 13 credits.")  # the cache was dropped


def test_the_pre_checkout_query_checks_pack_price_and_buyer(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    invoice = _invoice(bot, alice)
    assert alice.pre_checkout(invoice) == (True, None)
    outdated = "This offer is no longer available: please open /buy again."
    assert alice.pre_checkout(invoice, amount=1) == (False, outdated)
    assert alice.pre_checkout(invoice, payload="tarot:p:small:99:1") == (False, outdated)
    assert alice.pre_checkout(invoice, payload="tarot:p:huge:10:1") == (False, outdated)
    assert bot.user(2).pre_checkout(invoice) == (False, "This invoice was made for another user.")
    assert alice.press(data=BuyPack(item="huge"))[-1].text == "This button is no longer valid."


def test_the_same_payment_twice_in_parallel_and_after_a_restart_is_credited_once(
        bot_factory: Any, database: str) -> None:
    bot = bot_factory(plugins={"tarot": {}}, database=database, config={"workers": 8})
    bot.set_time(START)
    alice = bot.user(1)
    invoice = _invoice(bot, alice)
    # One payment under several update ids, each on its own thread straight into the pipeline (the
    # dispatcher would queue one chat's updates one after another).
    copies = [alice.payment_update(invoice, "ch-twice") for _ in range(6)]
    start = threading.Barrier(len(copies))

    def deliver(update: dict[str, Any]) -> None:
        start.wait()
        bot.app.process_update(update)

    threads = [threading.Thread(target=deliver, args=(update,)) for update in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _purchases() == [("purchase", 10, "completed", "ch-twice")]
    url = bot.app.config["database"]["url"]
    bot.app.stop()
    again = bot_factory(plugins={"tarot": {}}, db_url=url)
    again.set_time(START)
    assert again.process(again.user(1).payment_update(invoice, "ch-twice")) == []
    assert _purchases() == [("purchase", 10, "completed", "ch-twice")]
    with connection_scope():
        assert ledger.verify() == []
    # A re-paid old invoice has a new charge id: a new purchase.
    assert again.user(1).pay(invoice, "ch-new")[-1].text == "✨ Thank you! 10 credits added. Balance: 23."


def test_an_admin_refunds_a_purchase_once(bot_factory: Any, database: str) -> None:
    bot = bot_factory(plugins={"tarot": {}}, database=database, admins=(ADMIN,))
    bot.set_time(START)
    alice = bot.user(1)
    alice.pay(_invoice(bot, alice), "ch-r")
    alice.send("/reading three")  # spends 2 of the 13
    admin = bot.user(ADMIN)
    assert alice.send("/tarot_refund ch-r")[-1].text == "I don't know /tarot_refund. See /help."
    assert admin.send("/tarot_refund ch-r")[-1].text == ("Refunded ch-r: 10 credits taken back "
                                                          "(what was left of them).")
    assert "ch-r" in bot.telegram.refunded
    assert admin.send("/tarot_refund ch-r")[-1].text == "The payment ch-r was refunded already."
    assert _purchases()[-1] == ("refund", -10, "completed", None)
    assert alice.send("/balance")[0].text.startswith("💳 You have 1 credit.")
    with connection_scope():
        assert Transaction.get(Transaction.payment_reference == "ch-r").refund_reference == "ch-r"
        assert ledger.verify() == []


def test_charge_already_refunded_counts_as_done_and_other_refusals_do_not(bot_factory: Any) -> None:
    bot = bot_factory(plugins={"tarot": {}}, admins=(ADMIN,))
    bot.set_time(START)
    alice = bot.user(1)
    invoice = _invoice(bot, alice)
    alice.pay(invoice, "ch-a")
    alice.pay(invoice, "ch-b")
    bot.telegram.refunded.add("ch-a")  # refunded in Telegram already
    bot.telegram.refund_failures["ch-b"] = "BALANCE_TOO_LOW"
    admin = bot.user(ADMIN)
    assert admin.send("/tarot_refund ch-a")[-1].text.startswith("Refunded ch-a")
    assert admin.send("/tarot_refund ch-b")[-1].text == "Telegram refused to refund ch-b: Bad Request: BALANCE_TOO_LOW"
    with connection_scope():
        assert Transaction.get(Transaction.payment_reference == "ch-b").status == "completed"
        assert ledger.verify() == []


def test_a_refunded_payment_message_is_applied_once(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    invoice = _invoice(bot, alice)
    alice.pay(invoice, "ch-t")
    replies = alice.refunded_payment(invoice, "ch-t")
    assert replies[-1].text == "↩️ Your payment was refunded: 10 credits were taken back. Balance: 3."
    assert alice.refunded_payment(invoice, "ch-t") == []
    assert [t[:3] for t in _purchases()] == [("purchase", 10, "refunded"), ("refund", -10, "completed")]


def test_a_subscription_is_bought_renewed_reminded_cancelled_and_expires(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    assert alice.send("/subscription")[-1].button_texts == ["Premium: 250 ⭐ / 30 days, +20 credits",
                                                            "Professional: 600 ⭐ / 30 days, +60 credits"]
    url = alice.press("Premium: 250 ⭐ / 30 days, +20 credits")[-1].text.rsplit(" ", 1)[-1]
    link = bot.telegram.links[url]
    assert (link.params["subscription_period"], link.params["currency"]) == (2592000, "XTR")
    first_end = int((START + dt.timedelta(days=30)).timestamp())
    assert alice.pay(link, "sub-1", expires=first_end)[-1].text == ("⭐ Welcome to Premium! 20 credits added. "
                                                                    "Balance: 23.")
    assert alice.pre_checkout(link) == (False, "You already have this subscription.")
    assert "🔒" not in " ".join(alice.send("/reading")[-1].button_texts[:6])
    # Telegram renews it: a recurring payment with a new charge id extends it.
    bot.set_time(START + dt.timedelta(days=30))
    second_end = int((START + dt.timedelta(days=60)).timestamp())
    alice.send_message(alice.payment_update(link, "sub-2", recurring=True, expires=second_end)["message"])
    with connection_scope():
        sub = Subscription.get()
        assert (sub.status, sub.expires_at.timestamp(), sub.charge_id) == ("active", second_end, "sub-1")
    bot.set_time(START + dt.timedelta(days=57, hours=1))
    reminders = bot.run_job("tarot.subscriptions")
    assert [r.text for r in reminders] == [f"⭐ Your Premium subscription renews on "
                                           f"{(START + dt.timedelta(days=60)).date().isoformat()}."]
    assert bot.run_job("tarot.subscriptions") == []  # once
    assert alice.send("/subscription")[-1].button_texts == ["Cancel the subscription"]
    alice.press("Cancel the subscription")
    assert bot.telegram.subscriptions == {(1, "sub-1"): True}
    bot.set_time(START + dt.timedelta(days=60, minutes=1))
    assert [r.text for r in bot.run_job("tarot.subscriptions")] == [
        "Your Premium subscription has ended. You can subscribe again with /subscription."]
    assert _purchases() == [("subscription", 20, "completed", "sub-1"), ("subscription", 20, "completed", "sub-2")]


def test_reconciliation_credits_a_payment_that_never_arrived(bot_factory: Any, database: str) -> None:
    bot = bot_factory(plugins={"tarot": {}}, database=database, admins=(ADMIN,))
    bot.set_time(START)
    alice = bot.user(1)
    invoice = _invoice(bot, alice)
    alice.pay(invoice, "ch-seen")
    bot.telegram.star_transactions = [
        {"id": charge, "amount": 50, "date": int(START.timestamp()),
         "source": {"type": "user", "user": {"id": 1, "is_bot": False, "first_name": "A"},
                    "invoice_payload": "tarot:p:small:10:1"}}
        for charge in ("ch-seen", "ch-lost")] + [
        {"id": "other", "amount": 7, "date": int(START.timestamp()),
         "source": {"type": "user", "user": {"id": 1, "is_bot": False, "first_name": "A"},
                    "invoice_payload": "another-bot"}}]
    report = [r.text for r in bot.run_job("tarot.reconcile") if r.chat_id == ADMIN]
    assert report == ["🧾 Reconciliation: 1 Stars payment(s) had no transaction and were credited now:\n"
                      "ch-lost: 50 Stars from 1 had no transaction; credited 10"]
    assert [r for r in bot.run_job("tarot.reconcile") if r.method == "send_message"] == []
    assert [t[3] for t in _purchases()] == ["ch-seen", "ch-lost"]
    assert alice.send("/balance")[0].text.startswith("💳 You have 23 credits.")
    with connection_scope():
        assert ledger.verify() == []


def _star(charge: str, telegram_id: int, *, refund: bool = False, payload: str = "tarot:p:small:10:1") -> dict:
    """A StarTransaction as getStarTransactions lists it: a payment comes from the user (``source``),
    its refund goes to the user (``receiver``) under the same id."""
    partner = {"type": "user", "user": {"id": telegram_id, "is_bot": False, "first_name": "A"}}
    if not refund:
        partner["invoice_payload"] = payload
    return {"id": charge, "amount": 50, "date": int(START.timestamp()), ("receiver" if refund else "source"): partner}


def test_the_balance_right_after_reconciliation_credits_a_payment_is_the_new_one(
        bot_factory: Any, database: str, monkeypatch: Any) -> None:
    from framework import User
    from plugins.tarot import jobs

    bot = bot_factory(plugins={"tarot": {}}, database=database, redis=database == "postgres", admins=(ADMIN,))
    bot.set_time(START)
    alice = bot.user(1)
    assert alice.send("/balance")[-1].text.startswith("💳 You have 3 credits.")   # cached
    with connection_scope():
        key = f"balance:{User.get(User.telegram_id == 1).id}"
    cache, changed = bot.app.plugin_cache("tarot"), jobs.wallet.changed

    def an_update_reads_before_the_commit(job: Any, user: Any) -> None:
        changed(job, user)
        # Credited and the cache entry dropped, not committed: an update of alice now reads the
        # committed (old) balance and caches it.
        def other_update() -> None:
            with connection_scope():
                cache.set(key, ledger.balance_of(user))

        thread = threading.Thread(target=other_update)
        thread.start()
        thread.join()
        assert cache.get(key) == 3

    monkeypatch.setattr(jobs.wallet, "changed", an_update_reads_before_the_commit)
    bot.telegram.star_transactions = [_star("ch-lost", 1)]
    bot.run_job("tarot.reconcile")
    assert alice.send("/balance")[0].text.startswith("💳 You have 13 credits.")  # dropped after the commit


def test_reconciliation_applies_a_refund_telegram_made_that_the_ledger_missed(bot_factory: Any,
                                                                              database: str) -> None:
    bot = bot_factory(plugins={"tarot": {}}, database=database, admins=(ADMIN,))
    bot.set_time(START)
    alice = bot.user(1)
    alice.pay(_invoice(bot, alice), "ch-1")
    alice.pay(_invoice(bot, alice), "ch-2")
    alice.pay(_invoice(bot, alice), "ch-3")
    alice.refunded_payment(bot.telegram.invoices[-1], "ch-3")       # this refund reached the bot
    assert alice.send("/balance")[0].text.startswith("💳 You have 23 credits.")
    # Telegram refunded ch-1 too (a dispute), but its refunded_payment message never arrived.
    bot.telegram.star_transactions = [_star("ch-1", 1), _star("ch-2", 1), _star("ch-3", 1),
                                      _star("ch-3", 1, refund=True), _star("ch-1", 1, refund=True),
                                      _star("not-ours", 1, refund=True)]
    report = [r.text for r in bot.run_job("tarot.reconcile") if r.chat_id == ADMIN]
    assert report == ["🧾 Reconciliation: 1 Stars refund(s) by Telegram were missing from the ledger and were "
                      "applied now:\nch-1: 50 Stars refunded to 1 had no refund in the ledger; took back 10 credits"]
    assert [r for r in bot.run_job("tarot.reconcile") if r.method == "send_message"] == []   # applied once
    assert _purchases() == [("purchase", 10, "refunded", "ch-1"), ("purchase", 10, "completed", "ch-2"),
                            ("purchase", 10, "refunded", "ch-3"), ("refund", -10, "completed", None),
                            ("refund", -10, "completed", None)]
    with connection_scope():
        assert Transaction.get(Transaction.payment_reference == "ch-1").refund_reference == "ch-1"
        assert ledger.verify() == []
    assert alice.send("/balance")[0].text.startswith("💳 You have 13 credits.")
