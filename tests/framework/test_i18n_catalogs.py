"""Every shipped catalog is complete in English and Russian, and /language switches the replies."""
from __future__ import annotations

from pathlib import Path

import pytest
from plugins_for_tests import HELLO, HELLO_PATH, ROOT, build, texts

from framework.testing import assert_locales_complete


def _plugins() -> list[tuple[str, str]]:
    """The core, the hello example and every plugin package under plugins/, as (name, module)."""
    found = [("core", ""), ("hello", "plugbot_hello")]
    for package in sorted((Path(ROOT) / "plugins").glob("*/__init__.py")):
        found.append((package.parent.name, f"plugins.{package.parent.name}"))
    return found


@pytest.mark.parametrize(("owner", "module"), _plugins(), ids=[name for name, _ in _plugins()])
def test_every_key_exists_in_english_and_russian(owner: str, module: str, monkeypatch) -> None:
    monkeypatch.syspath_prepend(HELLO_PATH)
    assert_locales_complete(owner, module=module or None)


def test_an_incomplete_catalog_fails_with_what_it_lacks(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "pb_gappy"
    (package / "locales").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os\n\ndef plugbot_register_locales(register):\n"
        "    register(os.path.join(os.path.dirname(__file__), 'locales'))\n")
    (package / "locales" / "en.yaml").write_text("hi: Hi\nbye: Bye\ndays:\n  one: day\n  other: days\n")
    (package / "locales" / "ru.yaml").write_text("hi: ' '\ndays:\n  one: день\n  other: дня\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AssertionError) as failure:
        assert_locales_complete("gappy", module="pb_gappy")
    assert "ru lacks bye, days.few, days.many" in str(failure.value)
    assert "ru has blank texts hi" in str(failure.value)


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
