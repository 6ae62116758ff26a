"""The nine spreads of seed 001: their positions and questionnaires. Costs and the minimum
subscription tier come from the plugin's settings (``spreads:``), so an operator can price them.

Position and question texts live in the catalogs: ``spread.<id>.name``,
``position.<id>.<position>``, ``question.<question>`` and ``answer.<question>.<option>``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import SPREAD_TYPES, TIERS

POSITIONS: dict[str, tuple[str, ...]] = {
    "single": ("card",),
    "three": ("past", "present", "future"),
    "celtic": ("present", "challenge", "foundation", "recent_past", "crown", "near_future", "self",
               "environment", "hopes_fears", "outcome"),
    "relationship": ("you", "partner", "bond", "obstacle", "outlook"),
    "career": ("position", "obstacle", "strength", "advice", "outcome"),
    "week_ahead": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    "monthly_guidance": ("theme", "week1", "week2", "week3", "week4"),
    "yearly_path": ("m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10", "m11", "m12"),
    "life_path": ("roots", "gifts", "lessons", "path", "hidden", "next_step", "destination"),
}

# Seed 002's questionnaire: a few questions with button answers, asked after the question.
QUESTIONNAIRES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "relationship": (("status", ("single", "dating", "committed", "complicated")),
                     ("focus", ("understanding", "future", "healing"))),
    "career": (("situation", ("employed", "searching", "own_business", "studying")),
               ("focus", ("growth", "change", "money"))),
    "life_path": (("focus", ("purpose", "healing", "growth")),),
}

DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "single": {"cost": 1, "tier": "basic"},
    "three": {"cost": 2, "tier": "basic"},
    "relationship": {"cost": 3, "tier": "basic"},
    "career": {"cost": 3, "tier": "basic"},
    "week_ahead": {"cost": 4, "tier": "premium"},
    "monthly_guidance": {"cost": 4, "tier": "premium"},
    "celtic": {"cost": 5, "tier": "premium"},
    "yearly_path": {"cost": 6, "tier": "professional"},
    "life_path": {"cost": 6, "tier": "professional"},
}


@dataclass(frozen=True)
class Spread:
    id: str
    positions: tuple[str, ...]
    cost: int
    tier: str
    questions: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def size(self) -> int:
        return len(self.positions)


def all_spreads(settings: dict[str, Any]) -> list[Spread]:
    """Every spread in the seed's order, priced by ``settings["spreads"]``."""
    priced = settings.get("spreads", DEFAULT_SETTINGS)
    return [Spread(name, POSITIONS[name], int(priced[name]["cost"]), str(priced[name]["tier"]),
                   QUESTIONNAIRES.get(name, ())) for name in SPREAD_TYPES]


def get(settings: dict[str, Any], name: str) -> Spread | None:
    return next((spread for spread in all_spreads(settings) if spread.id == name), None)


def tier_allows(user_tier: str, required: str) -> bool:
    """basic < premium < professional."""
    return TIERS.index(user_tier) >= TIERS.index(required)


def problems(settings: dict[str, Any]) -> list[str]:
    """Config errors of the ``spreads`` setting."""
    found = []
    for name, values in settings.get("spreads", {}).items():
        if int(values["cost"]) < 1:
            found.append(f"spreads.{name}.cost: must be at least 1")
        if values["tier"] not in TIERS:
            found.append(f"spreads.{name}.tier: must be one of {', '.join(TIERS)}")
    return found
