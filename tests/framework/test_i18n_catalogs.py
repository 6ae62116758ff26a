"""Every catalog is complete in English and Russian; /language switches replies (issue 3, item 7)."""
from __future__ import annotations

from pathlib import Path

import pytest
from pb_testplugins import HELLO, ROOT, build, texts

from framework.i18n import CORE_LOCALES, Translator, load_catalog_file

REQUIRED_LANGUAGES = {"en", "ru"}


def _catalogs() -> list[tuple[str, Path]]:
    """The core's catalog, the hello example's, and one per plugin package under plugins/."""
    root = Path(ROOT)
    found = [("core", CORE_LOCALES), ("hello", root / "examples" / "hello" / "plugbot_hello" / "locales")]
    for package in sorted((root / "plugins").glob("*/__init__.py")):
        found.append((package.parent.name, package.parent / "locales"))
    return found


@pytest.mark.parametrize(("owner", "folder"), _catalogs(), ids=[name for name, _ in _catalogs()])
def test_every_key_exists_in_english_and_russian(owner: str, folder: Path) -> None:
    assert folder.is_dir(), f"{owner}: no locales folder at {folder}"
    translator = Translator()
    translator.add_catalog(owner, folder)
    assert REQUIRED_LANGUAGES <= set(translator.languages(owner)), f"{owner}: catalogs {translator.languages(owner)}"
    assert translator.missing_keys() == {}
    for lang in sorted(REQUIRED_LANGUAGES):                  # no blank texts hiding behind a present key
        blank = [key for key, text in load_catalog_file(folder / f"{lang}.yaml").items() if not text.strip()]
        assert blank == [], f"{owner}/{lang}: blank texts"


def test_language_command_switches_replies_to_russian(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = bot.user(1201, first_name="Alice", language_code="en")
    assert texts(alice.send("/hello"))[0].startswith("👋 Hello, Alice!")

    assert texts(alice.send("/language ru")) == ["Готово, теперь я говорю с вами по-русски."]
    assert texts(alice.send("/hello"))[0].startswith("👋 Привет, Alice!")
    assert texts(alice.send("/help"))[0].startswith("Доступные команды:")
    assert texts(alice.send("/nickname")) == ["Как вас называть? Пришлите имя или /cancel."]
    confirm = alice.send("Алиса")[-1]
    assert confirm.button_texts == ["Да", "Нет"]
    assert texts(alice.send("/cancel")) == ["Отменено."]

    replies = alice.send("/language")                         # back to English with the picker's button
    assert replies[-1].button_texts == ["English", "Русский"]
    alice.press("English")
    assert texts(alice.send("/hello"))[0].startswith("👋 Hello, Alice!")


def test_telegram_language_is_used_until_the_user_chooses(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    ivan = bot.user(1202, first_name="Ivan", language_code="ru-RU")
    assert texts(ivan.send("/hello"))[0].startswith("👋 Привет, Ivan!")
    assert texts(ivan.send("/unknown")) == ["Я не знаю команду /unknown. Список команд: /help."]
    ivan.send("/language en")
    assert texts(ivan.send("/hello"))[0].startswith("👋 Hello, Ivan!")
