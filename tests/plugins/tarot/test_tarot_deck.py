"""The deck, the draws and the local interpretation, without a bot."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from plugins.tarot import deck, interpretation, spreads

LOCALES = Path(__file__).resolve().parents[3] / "plugins" / "tarot" / "locales"


def _catalog(lang: str) -> dict[str, str]:
    flat: dict[str, str] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = str(node)

    walk("", yaml.safe_load((LOCALES / f"{lang}.yaml").read_text(encoding="utf-8")))
    return flat


def _translator(lang: str):
    catalog = _catalog(lang)
    return lambda key, **params: catalog[key].format(**params)


def test_the_deck_has_78_distinct_cards_with_both_languages() -> None:
    cards = deck.cards()
    assert len(cards) == 78 and len({c.id for c in cards}) == 78
    assert sum(c.arcana == "major" for c in cards) == 22
    assert {c.suit for c in cards if c.arcana == "minor"} == {"wands", "cups", "swords", "pentacles"}
    for card in cards:
        for lang in ("en", "ru"):
            assert card.name(lang) and card.names[lang]
            for reversed_ in (False, True):
                assert card.keywords[lang]["reversed" if reversed_ else "upright"]
                assert card.meanings[lang]["reversed" if reversed_ else "upright"].endswith(".")
        assert card.names["ru"] != card.names["en"]
        assert re.search("[а-яё]", card.meanings["ru"]["upright"], re.I)


@pytest.mark.parametrize("spread", spreads.all_spreads({"spreads": spreads.DEFAULT_SETTINGS}), ids=lambda s: s.id)
def test_each_spread_draws_its_number_of_distinct_cards(spread: spreads.Spread) -> None:
    for _ in range(20):
        drawn = deck.draw(spread.size, 0.5)
        assert len(drawn) == spread.size
        assert len({d.card.id for d in drawn}) == spread.size
        assert [d.position for d in drawn] == list(range(spread.size))


def test_nine_spreads_with_the_seed_sizes() -> None:
    sizes = {s.id: s.size for s in spreads.all_spreads({"spreads": spreads.DEFAULT_SETTINGS})}
    assert len(sizes) == 9
    assert sizes["single"] == 1 and sizes["three"] == 3 and sizes["celtic"] == 10
    assert sizes["week_ahead"] == 7 and sizes["yearly_path"] == 12


def test_draws_use_the_system_random_and_honour_the_reversal_probability() -> None:
    assert isinstance(deck._random, random.SystemRandom)
    assert not any(d.reversed for d in deck.draw(78, 0.0))
    assert all(d.reversed for d in deck.draw(78, 1.0))


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("spread", spreads.all_spreads({"spreads": spreads.DEFAULT_SETTINGS}), ids=lambda s: s.id)
def test_the_local_reading_names_every_card_and_position_in_paragraphs(spread: spreads.Spread, lang: str) -> None:
    t = _translator(lang)
    drawn = deck.draw(spread.size, 0.4)
    text = interpretation.local_reading(t, lang, spread, drawn, "Will it work out?", {"focus": "growth"}
                                        if spread.questions else None)
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == spread.size + 2  # an opening, one per position, the synthesis
    for d in drawn:
        assert d.card.name(lang) in text
        assert t(f"position.{spread.id}.{spread.positions[d.position]}") in text
        assert d.card.meaning(lang, d.reversed) in text
    assert "Will it work out?" in paragraphs[0] and "Will it work out?" in paragraphs[-1]
    assert paragraphs[-1].startswith(t("synthesis.heading"))


def test_every_text_exists_in_english_and_russian_through_the_kit() -> None:
    from framework.testing import assert_locales_complete

    assert_locales_complete("tarot")


def test_every_text_exists_in_english_and_russian() -> None:
    en, ru = _catalog("en"), _catalog("ru")

    def singular(catalog: dict[str, str]) -> dict[str, str]:  # plural forms differ by language
        return {re.sub(r"\.(one|few|many|other)$", "", key): text for key, text in catalog.items()}

    assert set(singular(en)) == set(singular(ru))
    for key, text in singular(en).items():
        assert set(re.findall(r"{(\w+)}", text)) <= set(re.findall(r"{(\w+)}", singular(ru)[key])) | {"n"}, key
    for spread in spreads.all_spreads({"spreads": spreads.DEFAULT_SETTINGS}):
        assert f"spread.{spread.id}" in en
        for position in spread.positions:
            assert f"position.{spread.id}.{position}" in en
        for question, options in spread.questions:
            assert f"question.{question}" in en or f"question.{spread.id}.{question}" in en
            for option in options:
                assert f"answer.{question}.{option}" in en


def test_long_readings_are_split_between_paragraphs() -> None:
    text = "\n\n".join(f"paragraph {n} " + "x" * 900 for n in range(10))
    parts = interpretation.chunks(text, 2000)
    assert all(len(p) <= 2000 for p in parts)
    assert "\n\n".join(parts) == text
