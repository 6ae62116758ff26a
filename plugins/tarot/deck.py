"""The 78-card deck (package data ``data/deck.yaml``) and the draw.

Draws use :class:`secrets.SystemRandom`: the operating system's randomness, so a reading cannot be
predicted from earlier ones. A spread never holds one card twice.
"""
from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from typing import Any

import yaml

DECK_FILE = os.path.join(os.path.dirname(__file__), "data", "deck.yaml")
_random = secrets.SystemRandom()


@dataclass(frozen=True)
class Card:
    id: str
    arcana: str                 # major | minor
    suit: str | None            # wands | cups | swords | pentacles for the minor arcana
    number: int
    names: dict[str, str]
    keywords: dict[str, dict[str, str]]
    meanings: dict[str, dict[str, str]]

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names["en"]

    def keywords_in(self, lang: str, reversed_: bool) -> str:
        return (self.keywords.get(lang) or self.keywords["en"])["reversed" if reversed_ else "upright"]

    def meaning(self, lang: str, reversed_: bool) -> str:
        return (self.meanings.get(lang) or self.meanings["en"])["reversed" if reversed_ else "upright"]


@dataclass(frozen=True)
class Drawn:
    """A card as it fell in a spread: its position index and whether it is reversed."""

    card: Card
    position: int
    reversed: bool

    def to_json(self) -> dict[str, Any]:
        return {"card": self.card.id, "position": self.position, "reversed": self.reversed}


@functools.lru_cache(maxsize=1)
def cards() -> tuple[Card, ...]:
    with open(DECK_FILE, encoding="utf-8") as file:
        data = yaml.safe_load(file)
    return tuple(Card(id=c["id"], arcana=c["arcana"], suit=c.get("suit"), number=c["number"], names=c["name"],
                      keywords=c["keywords"], meanings=c["meaning"]) for c in data["cards"])


@functools.lru_cache(maxsize=1)
def by_id() -> dict[str, Card]:
    return {card.id: card for card in cards()}


def draw(count: int, reversal_probability: float, rng: Any = _random) -> list[Drawn]:
    """``count`` distinct cards, each reversed with ``reversal_probability``."""
    chosen = rng.sample(cards(), count)
    return [Drawn(card, index, rng.random() < reversal_probability) for index, card in enumerate(chosen)]


def from_json(items: list[dict[str, Any]]) -> list[Drawn]:
    """Cards stored with a reading (:meth:`Drawn.to_json`) → :class:`Drawn`."""
    table = by_id()
    return [Drawn(table[item["card"]], int(item["position"]), bool(item["reversed"])) for item in items]
