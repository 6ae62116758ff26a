"""Quick add: read an expense out of a short free-text message ("coffee $5", "обед 350₽").

:func:`parse_expense` is a pure function of the text, the user's "today", language,
default currency and learned words, so it is tested without a database or a bot.

It is deliberately conservative, because a false positive stores money the user
never spent while a false negative only costs them typing ``/add``. A message
is an expense when it is short, not a question, holds exactly one amount, and
either that amount carries a currency marker ("$5", "5 eur", "350₽") or the
note is at most three words and one of them is a known spending word
(built-in keyword or a word this user taught). "I have 3 cats", "see you at 5"
and "hello" therefore stay chat.

Between the two lies "haircut 5": one bare amount, a short note, no known word.
It is returned with ``certain=False`` so the bot asks before storing it (silence
would be the worst answer); a number of a time or a count ("at 5", "3 cats")
is never such a candidate.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from . import categories
from .money import AmountError, MoneyMatch, parse_number, scan_amounts

MAX_LENGTH = 120
MAX_NOTE_WORDS_MARKED = 8
MAX_NOTE_WORDS_UNMARKED = 3


@dataclass(frozen=True)
class ParsedExpense:
    """What a quick-add message says. ``amount`` is parsed but not yet validated for its currency."""

    amount: Decimal
    currency: str
    note: str
    date: dt.date
    words: tuple[str, ...]
    explicit_currency: bool
    certain: bool = True  # False: plausible, but the bot asks before saving (no currency, no known word)


WEEKDAYS: dict[str, int] = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sunday": 6,
    "понедельник": 0, "пн": 0, "вторник": 1, "вт": 1, "среда": 2, "среду": 2, "ср": 2,
    "четверг": 3, "чт": 3, "пятница": 4, "пятницу": 4, "пт": 4, "суббота": 5, "субботу": 5, "сб": 5,
    "воскресенье": 6, "вс": 6,
}
RELATIVE_DAYS: dict[str, int] = {
    "today": 0, "сегодня": 0, "yesterday": 1, "вчера": 1,
    "day before yesterday": 2, "the day before yesterday": 2, "позавчера": 2,
}
# Words right before a bare number that make it a time or a count, not a price.
NOT_PRICE_BEFORE = frozenset({
    "at", "around", "by", "until", "till", "in", "after", "before", "from", "to", "about", "have",
    "has", "had", "every", "в", "к", "до", "после", "около", "через", "с", "по", "у",
    # "у меня 3 кошки" (I have 3 cats), "buy 3 apples": a count of things, not a price
    "меня", "тебя", "нас", "вас", "него", "неё", "нее", "них", "buy", "купить", "купи",
    # a label's number: "version 1.5", "room 101", "page 5"
    "version", "level", "room", "page", "chapter", "step", "number", "no", "версия", "уровень",
    "комната", "страница", "глава", "шаг", "номер",
})
# Units right after a bare number.
NOT_PRICE_AFTER = frozenset({
    "pm", "am", "h", "hr", "hrs", "hour", "hours", "min", "mins", "minute", "minutes", "sec",
    "seconds", "day", "days", "week", "weeks", "month", "months", "year", "years", "km", "kg", "g",
    "m", "cm", "mm", "l", "ml", "kb", "mb", "gb", "pcs", "x", "times", "people", "persons",
    "час", "часа", "часов", "мин", "минут", "км", "кг", "г", "м", "л", "мл", "шт", "раз", "раза",
    "день", "дня", "дней", "недели", "неделю", "лет", "года", "год", "человек", "утра", "вечера",
})
_FILLER = frozenset({"for", "on", "за", "на"})

_ISO_DATE = re.compile(r"(?<![\d.\-/])(\d{4})-(\d{2})-(\d{2})(?![\d\-])")
_DMY_DATE = re.compile(r"(?<![\d.,])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?![\d.,])")
_DM_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})$")
_RELATIVE = re.compile(
    r"(?<!\w)(" + "|".join(sorted(map(re.escape, RELATIVE_DAYS), key=len, reverse=True)) + r")(?!\w)",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(
    r"(?<!\w)(?:(?:on|last|в|во|в прошлый|в прошлую|в прошлое)\s+)?("
    + "|".join(sorted(map(re.escape, WEEKDAYS), key=len, reverse=True)) + r")(?!\w)",
    re.IGNORECASE,
)


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _day_month(day: int, month: int, today: dt.date) -> dt.date | None:
    """A dd.mm date without a year: this year, or last year if that would be in the future."""
    date = _safe_date(today.year, month, day)
    if date is not None and date > today:
        date = _safe_date(today.year - 1, month, day)
    return date


def _find_dates(text: str, today: dt.date) -> list[tuple[dt.date | None, int, int]]:
    """Every date expression in ``text`` as (date or None if invalid, start, end)."""
    found: list[tuple[dt.date | None, int, int]] = []
    for m in _ISO_DATE.finditer(text):
        found.append((_safe_date(int(m[1]), int(m[2]), int(m[3])), *m.span()))
    for m in _DMY_DATE.finditer(text):
        year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        found.append((_safe_date(year, int(m[2]), int(m[1])), *m.span()))
    for m in _RELATIVE.finditer(text):
        found.append((today - dt.timedelta(days=RELATIVE_DAYS[m[1].lower()]), *m.span()))
    for m in _WEEKDAY.finditer(text):
        back = (today.weekday() - WEEKDAYS[m[1].lower()]) % 7
        found.append((today - dt.timedelta(days=back), *m.span()))
    return _drop_overlaps(found)


def _drop_overlaps(found: list[tuple[dt.date | None, int, int]]) -> list[tuple[dt.date | None, int, int]]:
    kept: list[tuple[dt.date | None, int, int]] = []
    for item in sorted(found, key=lambda f: (f[1], -(f[2] - f[1]))):
        if not kept or item[1] >= kept[-1][2]:
            kept.append(item)
    return kept


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _as_day_month(match: MoneyMatch, today: dt.date) -> dt.date | None:
    m = _DM_DATE.match(match.number)
    if match.marked or m is None:
        return None
    return _day_month(int(m[1]), int(m[2]), today)


def _pick_amount(
    candidates: list[MoneyMatch], today: dt.date
) -> tuple[MoneyMatch, MoneyMatch | None] | None:
    """Choose the amount, and a bare "dd.mm" number to read as the date (if any)."""
    marked = [c for c in candidates if c.marked]
    if len(marked) > 1:
        return None
    if marked:
        others = [c for c in candidates if not c.marked]
        date_like = [c for c in others if _as_day_month(c, today)]
        return marked[0], (date_like[0] if len(date_like) == 1 else None)
    if len(candidates) == 1:
        return candidates[0], None
    if len(candidates) == 2:
        date_like = [c for c in candidates if _as_day_month(c, today)]
        plain = [c for c in candidates if c not in date_like]
        if len(date_like) == 1 and len(plain) == 1:
            return plain[0], date_like[0]
    return None


def _neighbour_words(text: str, match: MoneyMatch) -> tuple[str, str]:
    before = re.findall(r"[^\W\d_]+", text[:match.start])
    after = re.findall(r"[^\W\d_]+", text[match.end:])
    return (before[-1].lower() if before else ""), (after[0].lower() if after else "")


def _clean_note(text: str) -> str:
    words = text.split()
    while words and words[0].lower() in _FILLER:
        words.pop(0)
    while words and words[-1].lower() in _FILLER:
        words.pop()
    return " ".join(words).strip(" ,;:-–—.!")


def parse_expense(
    text: str,
    *,
    today: dt.date,
    lang: str,
    default_currency: str,
    known_words: Collection[str] = frozenset(),
) -> ParsedExpense | None:
    """Read ``text`` as an expense, or return None when it is not clearly one.

    ``today`` is the user's local date (relative dates and weekdays resolve against
    it), ``lang`` decides whether "1,234" is a thousands or a decimal comma, and
    ``known_words`` are words the user filed under a category before.
    """
    text = (text or "").strip()
    if not text or len(text) > MAX_LENGTH or "\n" in text or text.startswith("/") or text.endswith("?"):
        return None
    dates = _find_dates(text, today)
    if len(dates) > 1 or (dates and dates[0][0] is None):
        return None
    masked = _mask(text, [(start, end) for _, start, end in dates])
    picked = _pick_amount(scan_amounts(masked), today)
    if picked is None:
        return None
    amount_match, date_match = picked
    date = dates[0][0] if dates else today
    if date_match is not None:
        if dates:
            return None
        date = _as_day_month(date_match, today) or today
        masked = _mask(masked, [(date_match.start, date_match.end)])
    try:
        amount = parse_number(amount_match.number, lang)
    except AmountError:
        return None
    note = _clean_note(_mask(masked, [(amount_match.start, amount_match.end)]))
    plausible = _plausible(masked, amount_match, note, known_words)
    if plausible is None:
        return None
    return ParsedExpense(
        amount=amount,
        currency=amount_match.currency or default_currency,
        note=note,
        date=date,
        words=tuple(categories.words_of(note)),
        explicit_currency=amount_match.marked,
        certain=plausible,
    )


def _plausible(text: str, amount: MoneyMatch, note: str, known_words: Collection[str]) -> bool | None:
    """The conservative gate: True for a currency marker or a short note with a spending word,
    False for a short note of other words (worth asking about), None for chat."""
    note_words = note.split()
    if amount.marked:
        return True if len(note_words) <= MAX_NOTE_WORDS_MARKED else None
    before, after = _neighbour_words(text, amount)
    if before in NOT_PRICE_BEFORE or after in NOT_PRICE_AFTER:
        return None
    if not note_words or len(note_words) > MAX_NOTE_WORDS_UNMARKED:
        return None
    words = categories.words_of(note)
    if not words:
        return None
    known = {categories.normalize(w) for w in known_words}
    return any(categories.is_keyword(w) or w in known for w in words)


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """A date typed on its own ("yesterday", "пт", "2025-03-01", "01.03.2025", "01.03"), or None."""
    text = (text or "").strip()
    match = _DM_DATE.match(text)
    if match:
        return _day_month(int(match[1]), int(match[2]), today)
    dates = _find_dates(text, today)
    if len(dates) == 1 and dates[0][1:] == (0, len(text)):
        return dates[0][0]
    return None
