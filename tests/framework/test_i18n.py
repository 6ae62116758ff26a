"""Translator: catalog loading, language fallback, safe formatting, plurals and gap reports."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from framework.i18n import CORE_LOCALES, Translator, plural, plural_category, safe_format


def write(directory: Path, lang: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{lang}.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def translator(tmp_path: Path) -> Translator:
    locales = tmp_path / "demo"
    write(locales, "en", "greeting: 'Hello, {name}!'\nmenu:\n  title: Menu\n  items:\n    tea: Tea\nonly_en: English only\n")
    write(locales, "ru", "greeting: 'Привет, {name}!'\nmenu:\n  title: Меню\n  items:\n    tea: Чай\n")
    write(locales, "pt-BR", "greeting: 'Olá, {name}!'\n")
    tr = Translator()
    tr.add_catalog("demo", locales)
    return tr


def test_nested_keys_are_flattened(translator: Translator) -> None:
    assert translator.t("demo", "menu.title", "en") == "Menu"
    assert translator.t("demo", "menu.items.tea", "ru") == "Чай"


def test_formatting_fills_placeholders(translator: Translator) -> None:
    assert translator.t("demo", "greeting", "ru", name="Аня") == "Привет, Аня!"


def test_missing_placeholder_stays_visible(translator: Translator) -> None:
    assert translator.t("demo", "greeting", "en") == "Hello, {name}!"
    assert safe_format("{n:.1f} of {total:>4}", {"n": 2}) == "2.0 of {total:>4}"


def test_broken_template_is_returned_raw(caplog: pytest.LogCaptureFixture) -> None:
    assert safe_format("50% {off", {}) == "50% {off"
    assert "cannot format" in caplog.text


def test_regional_language_falls_back_to_base(translator: Translator) -> None:
    assert translator.t("demo", "greeting", "ru-RU", name="Олег") == "Привет, Олег!"
    assert translator.t("demo", "greeting", "ru_ru", name="Олег") == "Привет, Олег!"


def test_exact_regional_catalog_wins(translator: Translator) -> None:
    assert translator.t("demo", "greeting", "pt-br", name="Ana") == "Olá, Ana!"
    assert translator.t("demo", "menu.title", "pt-BR") == "Menu"  # not in pt-BR → en


def test_unknown_language_and_missing_translation_fall_back_to_english(translator: Translator) -> None:
    assert translator.t("demo", "menu.title", "de") == "Menu"
    assert translator.t("demo", "only_en", "ru") == "English only"
    assert translator.t("demo", "menu.title", None) == "Menu"


def test_missing_key_returns_key_and_warns_once(translator: Translator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="framework.i18n"):
        assert translator.t("demo", "no.such.key", "ru") == "no.such.key"
        assert translator.t("demo", "no.such.key", "en") == "no.such.key"
        assert translator.t("nobody", "greeting", "en") == "greeting"
    warnings = [r.getMessage() for r in caplog.records if "missing translation" in r.getMessage()]
    assert len(warnings) == 2
    assert "demo:no.such.key" in warnings[0]


def test_languages(translator: Translator, tmp_path: Path) -> None:
    write(tmp_path / "other", "de", "x: y\n")
    translator.add_catalog("other", tmp_path / "other")
    assert translator.languages() == ["de", "en", "pt-br", "ru"]
    assert translator.languages("other") == ["de"]


def test_missing_keys_reports_both_directions(tmp_path: Path) -> None:
    locales = tmp_path / "partial"
    write(locales, "en", "a: A\nb:\n  c: C\n  d: D\n")
    write(locales, "ru", "a: А\nb:\n  c: Ц\nextra: лишний\n")
    write(tmp_path / "complete", "en", "a: A\n")
    write(tmp_path / "complete", "ru", "a: А\n")
    tr = Translator()
    tr.add_catalog("partial", locales)
    tr.add_catalog("complete", tmp_path / "complete")
    assert tr.missing_keys() == {"partial": {"ru": ["b.d"], "en": ["extra"]}}


def test_russian_plural_forms_are_not_gaps(tmp_path: Path) -> None:
    write(tmp_path / "days", "en", "days:\n  one: '{n} day'\n  other: '{n} days'\n")
    write(tmp_path / "days", "ru", "days:\n  one: '{n} день'\n  few: '{n} дня'\n  many: '{n} дней'\n"
                                   "  other: '{n} дня'\n")
    write(tmp_path / "days", "uk", "days:\n  one: '{n} день'\n  few: '{n} дні'\n  many: '{n} днів'\n")
    tr = Translator()
    tr.add_catalog("days", tmp_path / "days")
    assert tr.missing_keys() == {}


def test_a_russian_plural_needs_one_few_and_many(tmp_path: Path) -> None:
    write(tmp_path / "days", "en", "days:\n  one: '{n} day'\n  other: '{n} days'\n")
    write(tmp_path / "days", "ru", "days:\n  one: '{n} день'\n  other: '{n} дня'\n")
    write(tmp_path / "days", "de", "days:\n  one: '{n} Tag'\n")
    tr = Translator()
    tr.add_catalog("days", tmp_path / "days")
    assert tr.missing_keys() == {"days": {"ru": ["days.few", "days.many"], "de": ["days.other"]}}


def test_reloading_an_owner_replaces_its_catalog(tmp_path: Path) -> None:
    write(tmp_path / "p", "en", "a: first\n")
    tr = Translator()
    tr.add_catalog("p", tmp_path / "p")
    write(tmp_path / "p", "en", "a: second\n")
    tr.add_catalog("p", tmp_path / "p")
    assert tr.t("p", "a", "en") == "second"


def test_invalid_catalogs_are_rejected(tmp_path: Path) -> None:
    tr = Translator()
    with pytest.raises(FileNotFoundError):
        tr.add_catalog("x", tmp_path / "absent")
    write(tmp_path / "list", "en", "items:\n  - a\n  - b\n")
    with pytest.raises(ValueError, match="items"):
        tr.add_catalog("list", tmp_path / "list")
    write(tmp_path / "scalar", "en", "just text\n")
    with pytest.raises(ValueError, match="mapping"):
        tr.add_catalog("scalar", tmp_path / "scalar")


@pytest.mark.parametrize(
    ("n", "category"),
    [(1, "one"), (21, "one"), (101, "one"), (2, "few"), (4, "few"), (22, "few"), (5, "many"),
     (11, "many"), (12, "many"), (14, "many"), (111, "many"), (0, "many"), (1.5, "other")],
)
def test_russian_plural_categories(n: float, category: str) -> None:
    assert plural_category(n, "ru-RU") == category


def test_english_plural_categories() -> None:
    assert [plural_category(n, "en") for n in (0, 1, 2, 21)] == ["other", "one", "other", "other"]


def test_plural_picks_forms_from_sequence_or_mapping() -> None:
    days = ("день", "дня", "дней")
    assert [plural(n, "ru", days) for n in (1, 3, 5, 21, 112)] == ["день", "дня", "дней", "день", "дней"]
    assert [plural(n, "en", ["day", "days"]) for n in (1, 2)] == ["day", "days"]
    assert plural(1.5, "ru", {"one": "день", "few": "дня", "many": "дней"}) == "дня"


def test_tn_uses_plural_subkeys(tmp_path: Path) -> None:
    write(tmp_path / "p", "en", "days:\n  one: '{n} day left'\n  other: '{n} days left'\n")
    write(tmp_path / "p", "ru", "days:\n  one: 'остался {n} день'\n  few: 'осталось {n} дня'\n  many: 'осталось {n} дней'\n")
    tr = Translator()
    tr.add_catalog("p", tmp_path / "p")
    assert tr.tn("p", "days", 1, "en") == "1 day left"
    assert tr.tn("p", "days", 3, "en") == "3 days left"
    assert tr.tn("p", "days", 23, "ru") == "осталось 23 дня"
    assert tr.tn("p", "days", 11, "ru") == "осталось 11 дней"


CORE_KEYS = [
    "welcome", "help.header", "cancel.done", "cancel.nothing", "error", "ratelimited", "unavailable",
    "timed_out", "stale_button", "banned", "banned_until", "not_allowed", "unknown_command",
    "language.name", "language.prompt", "language.changed", "consent.prompt", "consent.accept_button",
    "consent.decline_button", "consent.accepted", "consent.declined", "mydata.caption",
    "deleteme.confirm", "deleteme.confirm_button", "deleteme.cancel_button", "deleteme.done",
    "deleteme.cancelled", "not_admin", "plugin_paused", "inactivity_reminder",
]


@pytest.fixture
def core() -> Translator:
    tr = Translator()
    tr.add_core_catalog()
    return tr


def test_core_catalogs_are_complete(core: Translator) -> None:
    assert core.languages() == ["en", "ru"]
    assert core.missing_keys() == {}
    assert (CORE_LOCALES / "en.yaml").is_file()


@pytest.mark.parametrize("key", CORE_KEYS)
def test_core_keys_exist_and_are_translated(core: Translator, key: str) -> None:
    english = core.lookup("core", key, "en")
    russian = core.lookup("core", key, "ru")
    assert english and russian
    assert english != russian


def test_core_texts_format(core: Translator) -> None:
    assert core.t("core", "welcome", "en", name="Ann") == "Hi Ann! Here is what I can do:"
    assert core.t("core", "ratelimited", "ru", seconds=5) == "Не так быстро: попробуйте снова через 5 с."
    assert core.t("core", "unknown_command", "en", command="foo") == "I don't know /foo. See /help."
    until = core.t("core", "banned_until", "en", date="2030-01-01")
    assert core.t("core", "banned", "en", until=until) == "You are blocked from using this bot until 2030-01-01."
    assert core.t("core", "banned", "ru", until="") == "Вам закрыт доступ к этому боту."
    assert core.t("core", "cancel.nothing", "ru-RU") == "Отменять нечего."
