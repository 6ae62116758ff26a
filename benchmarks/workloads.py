"""Pre-generated update streams: what Telegram would send, from many users, with a type per update.

Generating everything up front (seeded) keeps the generator's cost out of the
measurement and makes runs comparable: the same N, users and seed give the same
updates. Each update is tagged with a *kind* (``echo``, ``quick_add``,
``add_step``, ``stats``, ``other``) so latencies are reported per type.

The mix keeps each user's conversation coherent: a user who started ``/add``
sends the next steps of that conversation (amount, category, note, Confirm)
before anything else, as a person would; different users interleave freely.
"""
from __future__ import annotations

import itertools
import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from plugins.expenses.conversation import AddStep, Step

USER_BASE = 10_000_000
START_DATE = 1_750_000_000  # a fixed unix time, so generated updates are reproducible

QUICK_WORDS = ("coffee", "lunch", "taxi", "pizza", "dinner", "groceries", "bus", "cinema", "tea", "breakfast")
OTHER_TEXTS = ("hello there", "how are you doing", "thanks a lot", "see you tomorrow", "what can you do",
               "good morning", "ok", "nice")
CATEGORY_NAMES = ("Food", "Transport", "Shopping", "Health", "Other")

# Share of the *updates* of each kind in the mix, close to what a live expenses bot sees: the /add conversation has five steps.
MIX_SHARES = {"quick_add": 0.50, "add_step": 0.20, "stats": 0.15, "other": 0.15}
ADD_STEPS = 5


@dataclass
class Workload:
    """The updates to serve, in order, and the kind of each (by update_id)."""

    name: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    kinds: dict[int, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for kind in self.kinds.values():
            result[kind] = result.get(kind, 0) + 1
        return result

    def write(self, updates_path: str, kinds_path: str) -> None:
        """JSON lines for the fake server, and the kinds for the bot-side latency report."""
        with open(updates_path, "w", encoding="utf-8") as fh:
            for update in self.updates:
                fh.write(json.dumps(update, ensure_ascii=False) + "\n")
        with open(kinds_path, "w", encoding="utf-8") as fh:
            json.dump({str(k): v for k, v in self.kinds.items()}, fh)


class UpdateFactory:
    """Builds raw updates the way the Bot API serialises them (dicts, as getUpdates returns)."""

    def __init__(self, first_update_id: int = 1, user_base: int = USER_BASE) -> None:
        self._update_ids = itertools.count(first_update_id)
        self._message_ids = itertools.count(1)
        self.user_base = user_base

    def user(self, index: int) -> dict[str, Any]:
        uid = self.user_base + index
        return {"id": uid, "is_bot": False, "first_name": f"User{index}", "language_code": "en"}

    def message(self, index: int, text: str, **extra: Any) -> dict[str, Any]:
        sender = self.user(index)
        body: dict[str, Any] = {"message_id": next(self._message_ids), "date": START_DATE,
                                "chat": {"id": sender["id"], "type": "private", "first_name": sender["first_name"]},
                                "from": sender, **extra}
        if text is not None:
            body["text"] = text
            if text.startswith("/"):
                body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": next(self._update_ids), "message": body}

    def callback(self, index: int, data: Any, message_id: int = 1) -> dict[str, Any]:
        """A button press; ``data`` is a ``CallbackData`` instance (packed for the presser) or raw."""
        sender = self.user(index)
        if not isinstance(data, str):
            data = data.pack(sender["id"])
        uid = next(self._update_ids)
        origin = {"message_id": message_id, "date": START_DATE, "text": "",
                  "chat": {"id": sender["id"], "type": "private", "first_name": sender["first_name"]}}
        return {"update_id": uid, "callback_query": {"id": str(uid), "from": sender, "chat_instance": "1",
                                                     "data": data, "message": origin}}


def quick_text(rng: random.Random) -> str:
    """A quick-add message the expenses plugin stores ("coffee 5", "taxi 12.50")."""
    amount = rng.choice((f"{rng.randint(1, 300)}", f"{rng.randint(1, 99)}.{rng.randint(0, 99):02d}"))
    return f"{rng.choice(QUICK_WORDS)} {amount}"


def echo(n: int, users: int = 1000, seed: int = 1, first_update_id: int = 1, user_base: int = USER_BASE) -> Workload:
    """(a) every update a distinct text; the echo plugin answers each with one message."""
    rng = random.Random(seed)
    factory = UpdateFactory(first_update_id, user_base)
    work = Workload("echo")
    for k in range(n):
        update = factory.message(rng.randrange(users), f"hello #{k} {rng.randint(0, 10**6)}")
        work.updates.append(update)
        work.kinds[update["update_id"]] = "echo"
    return work


SLOW_EVERY = 50  # in the slow_chat workload, one update in this many is the slow chat's /slow


def slow_chat(n: int, users: int = 1000, seed: int = 6, first_update_id: int = 1,
              user_base: int = USER_BASE) -> Workload:
    """The echo workload with one chat (user index ``users``, outside the others) sending ``/slow``
    (a handler that takes a second, see ``benchmarks.echo_plugin``) every :data:`SLOW_EVERY`
    updates: does one slow chat hold the others back? Its updates are tagged ``slow``."""
    rng = random.Random(seed)
    factory = UpdateFactory(first_update_id, user_base)
    work = Workload("slow_chat")
    for k in range(n):
        if k % SLOW_EVERY == SLOW_EVERY // 2:
            update, kind = factory.message(users, "/slow"), "slow"
        else:
            update, kind = factory.message(rng.randrange(users), f"hello #{k} {rng.randint(0, 10**6)}"), "echo"
        work.updates.append(update)
        work.kinds[update["update_id"]] = kind
    return work


def quick_add(n: int, users: int = 1000, seed: int = 2, first_update_id: int = 1,
              user_base: int = USER_BASE) -> Workload:
    """(b) "coffee 5"-style messages; each is stored and answered with one message."""
    rng = random.Random(seed)
    factory = UpdateFactory(first_update_id, user_base)
    work = Workload("quick_add")
    for _ in range(n):
        update = factory.message(rng.randrange(users), quick_text(rng))
        work.updates.append(update)
        work.kinds[update["update_id"]] = "quick_add"
    return work


def stats(n: int, users: int = 1000, seed: int = 3, first_update_id: int = 1, user_base: int = USER_BASE) -> Workload:
    """Only /stats (for the data-size scaling run)."""
    rng = random.Random(seed)
    factory = UpdateFactory(first_update_id, user_base)
    work = Workload("stats")
    for _ in range(n):
        update = factory.message(rng.randrange(users), "/stats")
        work.updates.append(update)
        work.kinds[update["update_id"]] = "stats"
    return work


_CONFIRM = AddStep(step=Step.OK)  # the /add Confirm button


def _add_conversation(rng: random.Random) -> deque[tuple[str, Any]]:
    """The five steps of /add: command, amount, category (typed), note, Confirm button."""
    amount = f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"
    return deque([("text", "/add"), ("text", amount), ("text", rng.choice(CATEGORY_NAMES)),
                  ("text", rng.choice(("lunch with friends", "gift", "refill", "weekly shop"))),
                  ("callback", _CONFIRM)])


def mix(n: int, users: int = 1000, seed: int = 4, first_update_id: int = 1, user_base: int = USER_BASE) -> Workload:
    """(c) 50 % quick-add, 20 % /add conversation steps, 15 % /stats, 15 % other text."""
    rng = random.Random(seed)
    factory = UpdateFactory(first_update_id, user_base)
    work = Workload("mix")
    pending: dict[int, deque[tuple[str, str]]] = {}
    kinds = list(MIX_SHARES)
    # A block of /add yields ADD_STEPS updates, so it is started ADD_STEPS times less often.
    weights = [MIX_SHARES[k] / (ADD_STEPS if k == "add_step" else 1) for k in kinds]
    while len(work.updates) < n:
        user = rng.randrange(users)
        steps = pending.get(user)
        if steps:
            kind = "add_step"
        else:
            kind = rng.choices(kinds, weights)[0]
            if kind == "add_step":
                steps = pending[user] = _add_conversation(rng)
        if kind == "add_step":
            how, payload = steps.popleft()
            update = factory.message(user, payload) if how == "text" else factory.callback(user, payload)
        elif kind == "quick_add":
            update = factory.message(user, quick_text(rng))
        elif kind == "stats":
            update = factory.message(user, "/stats")
        else:
            update = factory.message(user, rng.choice(OTHER_TEXTS))
        work.updates.append(update)
        work.kinds[update["update_id"]] = kind
    return work


# The tarot plugin's mix: a paid reading, a Stars purchase (its pre-checkout query and its
# successful payment), the balance and the free card of the day.
TAROT_SHARES = {"reading": 0.40, "purchase": 0.20, "balance": 0.20, "card": 0.20}


def tarot(n: int, users: int = 1000, seed: int = 5, first_update_id: int = 1, user_base: int = USER_BASE) -> Workload:
    """(d) the tarot plugin: 40 % /reading single, 20 % purchases (pre-checkout + payment), 20 %
    /balance, 20 % /card. Each purchase is a new charge id, so each credits 10 credits once."""
    rng = random.Random(seed)
    factory = UpdateFactory(first_update_id, user_base)
    work = Workload("tarot")
    kinds = list(TAROT_SHARES)
    while len(work.updates) < n:
        user = rng.randrange(users)
        kind = rng.choices(kinds, [TAROT_SHARES[k] for k in kinds])[0]
        sender = factory.user(user)
        payment = {"currency": "XTR", "total_amount": 50, "invoice_payload": f"tarot:p:small:10:{sender['id']}"}
        if kind == "purchase":
            uid = next(factory._update_ids)
            query = {"update_id": uid, "pre_checkout_query": {"id": f"q{uid}", "from": sender, **payment}}
            work.updates.append(query)
            work.kinds[uid] = "pre_checkout"
            update = factory.message(user, None, successful_payment={
                **payment, "telegram_payment_charge_id": f"bench-{uid}", "provider_payment_charge_id": ""})
        else:
            update = factory.message(user, {"reading": "/reading single", "balance": "/balance", "card": "/card"}[kind])
        work.updates.append(update)
        work.kinds[update["update_id"]] = kind
    return work


BUSY_GROUP = -1_001_000_000_001
CHAT_WORDS = ("trip", "mountain", "release", "deploy", "lunch", "meeting", "weekend", "bug", "coffee", "music",
              "football", "budget", "party", "train", "weather")


def chatmemory(n: int, users: int = 200, seed: int = 5, first_update_id: int = 1,
               user_base: int = USER_BASE) -> Workload:
    """(d) a busy supergroup: ``users`` members chatting (every tenth message a reply, one in fifty
    a /summary); the chatmemory plugin stores every message and answers the summaries."""
    rng = random.Random(seed)
    factory = UpdateFactory(first_update_id, user_base)
    work = Workload("chatmemory")
    group = {"id": BUSY_GROUP, "type": "supergroup", "title": "Busy group"}
    # Dated now, not START_DATE: /summary reads the last day by the application's (real) clock.
    now = int(time.time()) - 60
    for k in range(n):
        if k % 50 == 49:
            text, kind = "/summary", "summary"
        else:
            text = " ".join(rng.choice(CHAT_WORDS + OTHER_TEXTS) for _ in range(rng.randint(2, 8)))
            kind = "group_message"
        extra: dict[str, Any] = {"chat": group}
        if k % 10 == 9 and k > 20:
            extra["reply_to_message"] = {"message_id": k - rng.randint(1, 20), "date": START_DATE, "chat": group,
                                         "text": "earlier"}
        update = factory.message(rng.randrange(users), text, **extra)
        update["message"]["date"] = now
        work.updates.append(update)
        work.kinds[update["update_id"]] = kind
    return work


GENERATORS = {"echo": echo, "slow_chat": slow_chat, "quick_add": quick_add, "mix": mix, "stats": stats, "tarot": tarot,
              "chatmemory": chatmemory}


def generate(name: str, n: int, users: int = 1000, seed: int | None = None, **kwargs: Any) -> Workload:
    """One of :data:`GENERATORS` by name."""
    generator = GENERATORS[name]
    return generator(n, users, seed, **kwargs) if seed is not None else generator(n, users, **kwargs)
