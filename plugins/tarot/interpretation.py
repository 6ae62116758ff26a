"""Turning drawn cards into a reading: the LLM prompt, and the ``local`` reading composed from the
card meanings, the positions and the question when no LLM vendor is configured.

Functions take ``t(key, **params)``, the catalog already bound to the reader's language, so the
same code writes English and Russian readings.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from .deck import Drawn
from .spreads import Spread

Translate = Callable[..., str]
MESSAGE_LIMIT = 3500  # below Telegram's 4,096, leaving room for the heading of a continued message


def position_name(t: Translate, spread: Spread, drawn: Drawn) -> str:
    return t(f"position.{spread.id}.{spread.positions[drawn.position]}")


def card_line(t: Translate, lang: str, spread: Spread, drawn: Drawn) -> str:
    """``3. Future — The Star (reversed)``."""
    orientation = t("reversed" if drawn.reversed else "upright")
    return t("reading.card_line", n=drawn.position + 1, position=position_name(t, spread, drawn),
             card=drawn.card.name(lang), orientation=orientation)


def local_reading(t: Translate, lang: str, spread: Spread, cards: list[Drawn], question: str | None,
                  answers: dict[str, str] | None = None) -> str:
    """A reading written from the deck's meanings: an opening, a paragraph per position, a synthesis."""
    paragraphs = [t("reading.opening_question", question=question) if question else t("reading.opening")]
    for drawn in cards:
        position = position_name(t, spread, drawn)
        text = t("reading.position_reversed" if drawn.reversed else "reading.position_upright",
                 position=position, card=drawn.card.name(lang),
                 keywords=drawn.card.keywords_in(lang, drawn.reversed), meaning=drawn.card.meaning(lang, drawn.reversed))
        if drawn.card.arcana == "major":
            text += " " + t("reading.major_note")
        paragraphs.append(f"{card_line(t, lang, spread, drawn)}\n{text}")
    paragraphs.append(synthesis(t, lang, spread, cards, question, answers or {}))
    return "\n\n".join(paragraphs)


def synthesis(t: Translate, lang: str, spread: Spread, cards: list[Drawn], question: str | None,
              answers: dict[str, str]) -> str:
    """The closing paragraph: what the cards say together (major arcana, dominant suit, reversals, the arc)."""
    sentences = [t("synthesis.heading")]
    majors = sum(1 for d in cards if d.card.arcana == "major")
    if len(cards) > 1:
        sentences.append(t("synthesis.many_majors" if majors * 2 >= len(cards) else "synthesis.few_majors"))
        suits = Counter(d.card.suit for d in cards if d.card.suit)
        if suits:
            suit, count = suits.most_common(1)[0]
            if count >= 2 and list(suits.values()).count(count) == 1:
                sentences.append(t(f"synthesis.suit.{suit}"))
        reversed_count = sum(1 for d in cards if d.reversed)
        if reversed_count * 2 > len(cards):
            sentences.append(t("synthesis.many_reversed"))
        elif reversed_count == 0:
            sentences.append(t("synthesis.all_upright"))
        sentences.append(t("synthesis.arc", first=cards[0].card.name(lang), last=cards[-1].card.name(lang),
                           end=position_name(t, spread, cards[-1])))
    else:
        card = cards[0]
        sentences.append(t("synthesis.single", card=card.card.name(lang)))
    focus = answers.get("focus")
    if focus:
        sentences.append(t(f"synthesis.focus.{focus}"))
    if question:
        sentences.append(t("synthesis.question", question=question))
    return " ".join(sentences)


def prompt(spread_name: str, lang_name: str, spread: Spread, cards: list[Drawn], positions: list[str],
           question: str | None, answers: dict[str, str], lang: str) -> list[dict[str, Any]]:
    """The LLM request: the spread, each position with its card, the question and the questionnaire."""
    lines = [f"Spread: {spread_name} ({spread.size} cards)."]
    if question:
        lines.append(f"Question: {question}")
    for key, value in answers.items():
        lines.append(f"Questionnaire — {key}: {value}")
    for drawn, position in zip(cards, positions, strict=True):
        orientation = "reversed" if drawn.reversed else "upright"
        lines.append(f"{drawn.position + 1}. {position}: {drawn.card.name('en')} ({orientation}) — "
                     f"{drawn.card.keywords_in('en', drawn.reversed)}")
    system = ("You are a thoughtful tarot reader. Write a warm, grounded reading in "
              f"{lang_name}: one short paragraph per position naming the card and the position, then a "
              "synthesis paragraph that answers the question. No headings in Markdown, no disclaimers.")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def chunks(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split a long reading between paragraphs into messages of at most ``limit`` characters."""
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        while len(paragraph) > limit:  # one enormous paragraph (an LLM's): cut it hard
            if current:
                parts.append(current)
                current = ""
            parts.append(paragraph[:limit])
            paragraph = paragraph[limit:]
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) > limit:
            parts.append(current)
            current = paragraph
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts
