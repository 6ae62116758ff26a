"""The local, extractive summary of a chat's messages, and the pieces of the LLM one: pure
functions over plain records, no database.

A *digest* is what the local provider knows about a period, as JSON-able data: message counts,
each participant's count, keyword counts and the most replied-to messages. Digests of days add up
(:func:`merge`), which is how 7-day and 30-day summaries are built from the daily ones.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
CITATION = re.compile(r"\[#(\d{1,18})\]")

STOPWORDS = frozenset("""
the and for are but not you your with this that have has had was were will would can could should
what when where which who whom why how all any both each few more most other some such than too very
just about into over after before under again then once here there out off from they them their our
ours his her hers its it's i'm don't doesn't didn't isn't aren't wasn't weren't yes yeah okay also
been being does did doing get got going let let's like know think one two now well really much many still
и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было
вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь
опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам
чтоб без будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь
этом один почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при наконец два об другой
хоть после над больше тот через эти нас про всего них какая много разве три эту моя впрочем хорошо
свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю между это как-то
""".split())


@dataclass(frozen=True)
class Record:
    """One stored message, as the summaries read it."""

    telegram_id: int
    user_id: int | None
    author: str
    text: str
    reply_to: int | None = None
    is_bot: bool = False


def keywords(text: str) -> list[str]:
    """The words of ``text`` worth counting as topics: lowercase, 3+ letters, no stopwords or links."""
    text = re.sub(r"https?://\S+|@\w+|/\w+", " ", text)
    return [w for w in (m.group(0).lower().strip("'-") for m in WORD.finditer(text))
            if len(w) >= 3 and w not in STOPWORDS]


def digest(records: Iterable[Record], *, top_topics: int = 8, top_replied: int = 3) -> dict[str, Any]:
    """What the local provider says about these messages."""
    records = list(records)
    people: dict[str, dict[str, Any]] = {}
    topics: Counter[str] = Counter()
    replies: Counter[int] = Counter()
    by_id = {r.telegram_id: r for r in records}
    for record in records:
        if record.reply_to is not None:
            replies[record.reply_to] += 1
        if record.is_bot or record.text.startswith("/"):
            continue  # the bot's words and commands to it are not the chat's conversation
        key = str(record.user_id)
        person = people.setdefault(key, {"name": record.author, "count": 0})
        person["count"] += 1
        topics.update(set(keywords(record.text)))  # a word counts once per message
    replied = []
    for telegram_id, count in sorted(replies.items(), key=lambda item: (-item[1], item[0])):
        original = by_id.get(telegram_id)
        if original is None:  # replies to a message from before the period
            continue
        replied.append({"id": telegram_id, "author": original.author, "text": snippet(original.text),
                        "replies": count})
        if len(replied) >= top_replied:
            break
    return {"messages": sum(person["count"] for person in people.values()), "people": people,
            "topics": dict(topics.most_common(max(top_topics * 3, 20))), "replied": replied}


def merge(digests: Iterable[dict[str, Any]], *, top_replied: int = 3) -> dict[str, Any]:
    """Several periods' digests as one (the 7-day and 30-day summaries are built this way)."""
    people: dict[str, dict[str, Any]] = {}
    topics: Counter[str] = Counter()
    replied: list[dict[str, Any]] = []
    total = 0
    for one in digests:
        total += int(one.get("messages", 0))
        for key, person in one.get("people", {}).items():
            mine = people.setdefault(key, {"name": person["name"], "count": 0})
            mine["count"] += person["count"]
        topics.update(one.get("topics", {}))
        replied.extend(one.get("replied", []))
    replied.sort(key=lambda item: -item["replies"])
    return {"messages": total, "people": people, "topics": dict(topics.most_common(40)),
            "replied": replied[:top_replied]}


def shares(facts: dict[str, Any]) -> dict[str, int]:
    """user id (as text) → messages: each participant's share, for /context."""
    return {key: person["count"] for key, person in facts.get("people", {}).items() if key != "None"}


def snippet(text: str, length: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def message_link(chat_id: int, telegram_id: int) -> str:
    """A link to a message: only supergroups (ids -100…) have public-style links."""
    text = str(chat_id)
    if text.startswith("-100"):
        return f"https://t.me/c/{text[4:]}/{telegram_id}"
    return f"#{telegram_id}"


def render(facts: dict[str, Any], t: Callable[..., str], chat_id: int, *, top_participants: int = 5,
           top_topics: int = 8) -> str:
    """The digest as the lines /summary shows, in the reader's language (``t`` translates)."""
    people = sorted(facts.get("people", {}).values(), key=lambda p: (-p["count"], p["name"]))
    lines = [t("summary.counts", messages=facts.get("messages", 0), people=len(people))]
    if people:
        names = ", ".join(f"{p['name']} ({p['count']})" for p in people[:top_participants])
        lines.append(t("summary.active", names=names))
    topics = sorted(facts.get("topics", {}).items(), key=lambda item: (-item[1], item[0]))[:top_topics]
    if topics:
        lines.append(t("summary.topics", topics=", ".join(word for word, _ in topics)))
    if facts.get("replied"):
        lines.append(t("summary.replied"))
        for item in facts["replied"]:
            lines.append(t("summary.replied_line", author=item["author"], text=item["text"],
                           replies=item["replies"], link=message_link(chat_id, item["id"])))
    return "\n".join(lines)


def estimate_tokens(text: str) -> int:
    """A vendor-neutral estimate: about four characters a token."""
    return max(1, (len(text) + 3) // 4)


def prompt_lines(records: list[Record], budget: int) -> list[str]:
    """``[#id] author: text`` lines of the newest messages that fit ``budget`` tokens, oldest first."""
    lines: list[str] = []
    used = 0
    for record in reversed(records):
        line = f"[#{record.telegram_id}] {record.author}: {snippet(record.text, 400)}"
        cost = estimate_tokens(line) + 1
        if used + cost > budget:
            break
        lines.append(line)
        used += cost
    return list(reversed(lines))


def citations(text: str) -> list[int]:
    """The message ids a summary cites as ``[#123]``, in order, once each."""
    seen: list[int] = []
    for match in CITATION.finditer(text):
        value = int(match.group(1))
        if value not in seen:
            seen.append(value)
    return seen


def drop_citations(text: str, valid: set[int]) -> str:
    """``text`` without the citations of messages that are not in ``valid``."""
    cleaned = CITATION.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", text)
    return re.sub(r"[ \t]{2,}", " ", cleaned).replace(" .", ".").strip()
