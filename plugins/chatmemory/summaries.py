"""Writing summaries: daily ones from a chat's messages, 7-day and 30-day ones from the dailies,
with the local provider or through the core's LLM service.

A local summary stores its digest (JSON) and is rendered in the reader's language when shown;
an LLM summary stores the vendor's text, its citations of ``[#message_id]`` checked against the
chat's stored messages.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import peewee

from . import digest
from .models import Message, Summary
from .repositories import ChatRepository, MessageRepository, SummaryRepository

DAY = dt.timedelta(days=1)
SPANS = {"daily": DAY, "7day": dt.timedelta(days=7), "30day": dt.timedelta(days=30)}
FRESH = dt.timedelta(hours=1)  # /summary shows a stored summary whose period ended this recently

SYSTEM_PROMPT = (
    "You summarize a group chat for its members. Write a short neutral summary (at most 8 sentences) "
    "of what was discussed, decided and asked. After each statement cite the messages it comes from "
    "as [#id], using only ids that appear in the transcript. Do not invent facts.")
ROLLUP_PROMPT = (
    "You combine daily summaries of a group chat into one summary of the whole period (at most 10 "
    "sentences). Keep the [#id] citations of the statements you keep; add no new ones.")

chats = ChatRepository()
messages = MessageRepository()
summaries = SummaryRepository()


def records_of(rows: list[Message], opted_out: set[int]) -> list[digest.Record]:
    return [digest.Record(m.telegram_message_id, m.user_id, m.author or ("bot" if m.is_bot_message else "?"),
                          m.content, m.reply_to_message_id, m.is_bot_message)
            for m in rows if m.user_id not in opted_out]


def latest_fresh(chat_id: int, summary_type: str, now: dt.datetime) -> Summary | None:
    summary = summaries.get_latest(chat_id, summary_type)
    if summary is not None and summary.period_end >= now - FRESH:
        return summary
    return None


def llm_tokens_today(chat_id: int, now: dt.datetime) -> int:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    used = (Summary.select(peewee.fn.COALESCE(peewee.fn.SUM(Summary.token_count), 0))
            .where(Summary.chat == chat_id, Summary.provider == "llm", Summary.created_at >= start).scalar())
    return int(used or 0)


def _use_llm(settings: dict[str, Any], llm: Any, chat_id: int, now: dt.datetime) -> bool:
    if settings["summary_provider"] == "local" or llm is None:
        return False
    if llm.active_vendor() == "local":
        return False
    return llm_tokens_today(chat_id, now) < int(settings["daily_llm_tokens_per_chat"])


def _ask(llm: Any, system: str, prompt: str, max_tokens: int = 600) -> tuple[str, int] | None:
    result = llm.complete([{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                          user_id=None, fallback=lambda: "", cache=False, temperature=0.3, max_tokens=max_tokens)
    if result.vendor == "local" or result.fell_back or not result.text.strip():
        return None
    return result.text.strip(), int(result.tokens)


def daily(settings: dict[str, Any], llm: Any, chat_id: int, end: dt.datetime, opted_out: set[int]) -> Summary | None:
    """The summary of the day before ``end`` (None when the chat said nothing then)."""
    start = end - DAY
    lineage = chats.lineage(chat_id)
    rows = records_of(messages.get_since(lineage, start, end), opted_out)
    if not any(not r.is_bot for r in rows):
        return None
    facts = digest.digest(rows, top_topics=int(settings["top_topics"]), top_replied=int(settings["top_replied"]))
    shares = digest.shares(facts)
    if _use_llm(settings, llm, chat_id, end):
        budget = int(settings["max_prompt_tokens"])
        lines = digest.prompt_lines(rows, budget - digest.estimate_tokens(SYSTEM_PROMPT))
        answer = _ask(llm, SYSTEM_PROMPT, "\n".join(lines)) if lines else None
        if answer is not None:
            text, tokens = answer
            cited = digest.citations(text)
            valid = messages.existing_ids(lineage, cited)
            text = digest.drop_citations(text, valid)
            return summaries.add(chat_id=chat_id, summary_type="daily", content=text, period_start=start,
                                 period_end=end, token_count=tokens or digest.estimate_tokens(text), provider="llm",
                                 cited=[c for c in cited if c in valid], participants=shares, created_at=end)
    content = json.dumps(facts, ensure_ascii=False)
    return summaries.add(chat_id=chat_id, summary_type="daily", content=content, period_start=start, period_end=end,
                         token_count=digest.estimate_tokens(content), provider="local",
                         cited=[item["id"] for item in facts["replied"]], participants=shares, created_at=end)


def rollup(settings: dict[str, Any], llm: Any, chat_id: int, summary_type: str, end: dt.datetime) -> Summary | None:
    """A 7-day or 30-day summary made of the daily summaries of that span (None without any)."""
    start = end - SPANS[summary_type]
    days = summaries.get_between(chat_id, "daily", start, end)
    if not days:
        return None
    shares: dict[str, int] = {}
    for day in days:
        for key, count in (day.participants or {}).items():
            shares[key] = shares.get(key, 0) + int(count)
    cited = sorted({c for day in days for c in (day.cited or [])})
    llm_days = [day for day in days if day.provider == "llm"]
    if llm_days and _use_llm(settings, llm, chat_id, end):
        budget = int(settings["max_prompt_tokens"]) - digest.estimate_tokens(ROLLUP_PROMPT)
        parts, used = [], 0
        for day in reversed(days):
            text = day.content if day.provider == "llm" else _plain(day)
            part = f"{day.period_start:%Y-%m-%d}: {text}"
            if used + digest.estimate_tokens(part) > budget:
                break
            parts.append(part)
            used += digest.estimate_tokens(part)
        answer = _ask(llm, ROLLUP_PROMPT, "\n\n".join(reversed(parts)), max_tokens=800)
        if answer is not None:
            text, tokens = answer
            found = digest.citations(text)
            valid = set(cited) & set(found)
            text = digest.drop_citations(text, valid)
            return summaries.add(chat_id=chat_id, summary_type=summary_type, content=text, period_start=start,
                                 period_end=end, token_count=tokens, provider="llm",
                                 cited=[c for c in found if c in valid], participants=shares, created_at=end)
    facts = digest.merge([_digest_of(day) for day in days], top_replied=int(settings["top_replied"]))
    facts["days"] = len(days)
    content = json.dumps(facts, ensure_ascii=False)
    return summaries.add(chat_id=chat_id, summary_type=summary_type, content=content, period_start=start,
                         period_end=end, token_count=digest.estimate_tokens(content), provider="local",
                         cited=[item["id"] for item in facts["replied"]], participants=shares, created_at=end)


def _digest_of(day: Summary) -> dict[str, Any]:
    """A daily summary's digest; an LLM one counts through its participants' shares."""
    if day.provider == "local":
        return json.loads(day.content)
    people = {key: {"name": key, "count": count} for key, count in (day.participants or {}).items()}
    return {"messages": sum((day.participants or {}).values()), "people": people, "topics": {}, "replied": []}


def _plain(day: Summary) -> str:
    facts = json.loads(day.content)
    topics = ", ".join(sorted(facts.get("topics", {}), key=lambda w: -facts["topics"][w])[:8])
    return f"{facts.get('messages', 0)} messages; topics: {topics}"


def generate(settings: dict[str, Any], llm: Any, chat_id: int, summary_type: str, now: dt.datetime,
             opted_out: set[int]) -> Summary | None:
    """A new summary of ``summary_type`` ending ``now``: a 7/30-day one writes today's daily first."""
    if summary_type == "daily":
        return daily(settings, llm, chat_id, now, opted_out)
    if latest_fresh(chat_id, "daily", now) is None:
        daily(settings, llm, chat_id, now, opted_out)
    return rollup(settings, llm, chat_id, summary_type, now)


def render(summary: Summary, t: Any, chat_id: int, settings: dict[str, Any]) -> str:
    """The summary as shown to a reader, in their language."""
    start, end = summary.period_start, summary.period_end
    lines = [t(f"summary.title.{summary.summary_type}"),
             t("summary.period", start=f"{start:%Y-%m-%d %H:%M}", end=f"{end:%Y-%m-%d %H:%M}")]
    if summary.provider == "llm":
        lines += [summary.content, t("summary.provider_llm")]
    else:
        facts = json.loads(summary.content)
        lines.append(digest.render(facts, t, chat_id, top_participants=int(settings["top_participants"]),
                                   top_topics=int(settings["top_topics"])))
        if facts.get("days"):
            lines.append(t("summary.from_days", days=facts["days"]))
    return "\n".join(lines)
