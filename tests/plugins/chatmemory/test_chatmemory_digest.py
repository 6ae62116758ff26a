"""The local summary's pure functions: keywords, digests, merging, rendering, prompts, citations."""
from __future__ import annotations

from plugins.chatmemory import digest
from plugins.chatmemory.digest import Record


def t(key: str, **params: object) -> str:
    return key + ":" + ",".join(f"{k}={v}" for k, v in sorted(params.items()))


RECORDS = [
    Record(1, 10, "Ann", "Let's plan the mountain trip"),
    Record(2, 20, "Bob", "The mountain trip sounds great", reply_to=1),
    Record(3, 10, "Ann", "/summary"),
    Record(4, None, "bot", "Here is the summary", is_bot=True),
    Record(5, 20, "Bob", "Booking the hut for the trip", reply_to=1),
    Record(6, 10, "Ann", "Поход в горы — отличная идея", reply_to=5),
]


def test_keywords_skip_stopwords_links_mentions_and_commands() -> None:
    assert digest.keywords("The trip to https://x.y and @bob /summary: the TRIP is on, и это поход") == [
        "trip", "trip", "поход"]


def test_digest_counts_people_topics_and_the_most_replied_to() -> None:
    facts = digest.digest(RECORDS, top_replied=2)
    assert facts["messages"] == 4  # the command and the bot's message are not conversation
    assert facts["people"] == {"10": {"name": "Ann", "count": 2}, "20": {"name": "Bob", "count": 2}}
    assert facts["topics"]["trip"] == 3 and facts["topics"]["mountain"] == 2
    assert facts["replied"] == [
        {"id": 1, "author": "Ann", "text": "Let's plan the mountain trip", "replies": 2},
        {"id": 5, "author": "Bob", "text": "Booking the hut for the trip", "replies": 1}]
    assert digest.shares(facts) == {"10": 2, "20": 2}


def test_merge_adds_days_up() -> None:
    day = digest.digest(RECORDS)
    merged = digest.merge([day, day], top_replied=1)
    assert merged["messages"] == 8
    assert merged["people"]["10"]["count"] == 4
    assert merged["topics"]["trip"] == 6
    assert len(merged["replied"]) == 1


def test_render_links_supergroup_messages_only() -> None:
    facts = digest.digest(RECORDS, top_replied=1)
    supergroup = digest.render(facts, t, -1001234, top_participants=1, top_topics=2).splitlines()
    assert supergroup[0] == "summary.counts:messages=4,people=2"
    assert supergroup[1] == "summary.active:names=Ann (2)"
    assert supergroup[2] == "summary.topics:topics=trip, mountain"
    assert supergroup[-1].endswith("link=https://t.me/c/1234/1,replies=2,text=Let's plan the mountain trip")
    assert digest.render(facts, t, -55).splitlines()[-1].startswith("summary.replied_line:author=Ann,link=#1")


def test_prompt_lines_keep_the_newest_within_the_budget() -> None:
    lines = digest.prompt_lines(RECORDS, budget=30)
    assert lines[-1] == "[#6] Ann: Поход в горы — отличная идея"
    assert "[#1]" not in "\n".join(lines)
    assert sum(digest.estimate_tokens(line) + 1 for line in lines) <= 30


def test_citations_found_and_made_up_ones_dropped() -> None:
    text = "Ann planned it [#1] and Bob booked [#5] the moon [#99] [#1]."
    assert digest.citations(text) == [1, 5, 99]
    assert digest.drop_citations(text, {1, 5}) == "Ann planned it [#1] and Bob booked [#5] the moon [#1]."
