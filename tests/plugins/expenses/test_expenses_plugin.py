"""Categories, settings, data rights, admin counters, locales and the migration."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from expenses_helpers import START, rows, texts
from playhouse.migrations import Runner

from framework import connection_scope
from framework import db as dbmod
from framework.models import CORE_MODELS
from framework.testing import assert_locales_complete
from plugins.expenses.models import MODELS, Category, Expense

PLUGIN = Path(__file__).resolve().parents[3] / "plugins" / "expenses"


# -- /categories --------------------------------------------------------------


def test_categories_add_rename_archive(alice) -> None:
    assert "Added category ☕ Coffee." in texts(alice.send("/categories add Coffee ☕"))
    assert "already a category" in texts(alice.send("/categories add coffee"))
    assert "Renamed to ☕ Cafe." in texts(alice.send("/categories rename Coffee Cafe"))
    replies = alice.send("/add 3")
    assert "☕ Cafe" in replies[-1].button_texts
    alice.send("/cancel")
    assert "Archived ☕ Cafe" in texts(alice.send("/categories archive Cafe"))
    replies = alice.send("/categories")
    assert "Archived:\n• ☕ Cafe" in texts(replies)
    assert "☕ Cafe" not in alice.send("/add 3")[-1].button_texts
    alice.send("/cancel")
    assert "Added category ☕ Cafe." in texts(alice.send("/categories add Cafe"))  # brought back


def test_multi_word_names_and_errors(alice) -> None:
    assert "Added category 🏷️ Eating out." in texts(alice.send("/categories add Eating out"))
    assert "Renamed to 🏷️ Restaurants." in texts(alice.send('/categories rename "Eating out" Restaurants'))
    assert "built-in category" in texts(alice.send("/categories rename Food Meals"))
    assert "built-in category" in texts(alice.send("/categories archive Food"))
    assert "no category called Nope" in texts(alice.send("/categories archive Nope"))
    assert "already a category called Food" in texts(alice.send("/categories add food"))
    assert "needs a letter" in texts(alice.send("/categories add ☕"))


def test_categories_are_private_per_user(alice, bob) -> None:
    alice.send("/categories add Secret 🔒")
    assert "Secret" not in texts(bob.send("/categories"))
    assert "🔒 Secret" not in bob.send("/add 3")[-1].button_texts


def test_categories_list_in_russian(bot) -> None:
    ivan = bot.user(3003, language_code="ru")
    text = texts(ivan.send("/categories"))
    assert "🍔 Еда (встроенная)" in text and "⚕️ Здоровье" in text


# -- /settings ------------------------------------------------------------------


@pytest.mark.parametrize(("command", "shown"), [
    ("/settings currency EUR", "Currency: EUR"),
    ("/settings currency €", "Currency: EUR"),
    ("/settings timezone Europe/Moscow", "Timezone: Europe/Moscow"),
    ("/settings week_start sunday", "Week starts on: Sunday"),
    ("/settings nlp off", "Quick add from text: off"),
    ("/settings autocategorize off", "Auto categories: off"),
    ("/settings threshold 90", "Budget alert at: 90%"),
    ("/settings date_format DD.MM.YYYY", "Date format: DD.MM.YYYY"),
    ("/settings number_format ru-RU", "Number format: ru-RU"),
])
def test_settings_change(alice, command: str, shown: str) -> None:
    replies = alice.send(command)
    assert "✅ Saved." in texts(replies) and shown in texts(replies)


@pytest.mark.parametrize(("command", "error"), [
    ("/settings currency XYZ", "not a currency"),
    ("/settings timezone Mars/Olympus", "not a timezone"),
    ("/settings timezone ../../etc/passwd", "not a timezone"),
    ("/settings week_start friday", "sunday or monday"),
    ("/settings nlp maybe", "on or off"),
    ("/settings threshold 0", "from 1 to 100"),
    ("/settings threshold 150", "from 1 to 100"),
    ("/settings date_format whatever", "Date formats"),
    ("/settings color blue", "Change:"),
])
def test_settings_errors(alice, command: str, error: str) -> None:
    assert error in texts(alice.send(command))


def test_settings_show_and_formats_apply(alice) -> None:
    text = texts(alice.send("/settings"))
    assert "Currency: USD" in text and "Exchange rates: not set" in text
    alice.send("/settings date_format DD.MM.YYYY")
    alice.send("/settings number_format ru-RU")
    assert "1\u00a0234,56\u00a0$ · 🛍️ Shopping · laptop · 12.03.2025" in texts(alice.send("$1,234.56 laptop"))
    alice.send("/rate USD EUR 0.92")
    assert "Exchange rates: 1 USD = 0.92 EUR" in texts(alice.send("/settings"))


def test_russian_user_defaults_to_russian_formats(bot) -> None:
    ivan = bot.user(3003, language_code="ru")
    assert "350,00\u00a0₽ · 🍔 Еда · обед · 12.03.2025" in texts(ivan.send("обед 350₽"))


# -- data rights and admin ---------------------------------------------------------


def test_mydata_contains_the_plugins_data(alice) -> None:
    alice.send("coffee $5")
    alice.press("🚗 Transport")
    alice.send("/categories add Coffee ☕")
    alice.send("/recurring add rent 1000 monthly on 1")
    alice.send("/rate USD EUR 0.92")
    [doc] = [r for r in alice.send("/mydata") if r.method == "send_document"]
    data = json.loads(doc.document)["plugins"]["expenses"]
    assert data["expenses"][0]["amount"] == "5.00" and data["expenses"][0]["category"] == "Transport"
    assert data["categories"][0]["name"] == "Coffee"
    assert data["recurring"][0]["note"] == "rent"
    assert data["exchange_rates"][0] == {"base": "USD", "quote": "EUR", "rate": "0.9200",
                                         "set_at": data["exchange_rates"][0]["set_at"]}
    assert data["learned_words"] == {"coffee": "Transport"}
    assert data["settings"]["currency"] == "USD"


def test_deleteme_erases_everything_of_the_user_only(bot, alice, bob) -> None:
    for user in (alice, bob):
        user.send("coffee $5")
        user.press("🚗 Transport")
        user.send("/categories add Mine 🏷")
        user.send("/recurring add rent 1000 monthly on 1")
        user.send("/rate USD EUR 0.9")
        user.send("/budget 100")
    bot.run_job("expenses.recurring")
    alice.send("/deleteme")
    alice.press("Yes, delete everything")
    assert rows(1001, include_deleted=True) == []
    assert len(rows(2002)) == 1
    with connection_scope():
        for model in MODELS:
            if "user" in model._meta.fields:
                owners = {row.user_id for row in model.select()} - {None}
                assert len(owners) <= 1, model


def test_admin_counters(bot, alice, bob) -> None:
    alice.send("coffee $5")
    alice.send("tea $2")
    bob.send("taxi $9")
    bob.send("/undo")
    alice.send("/recurring add rent 1000 monthly on 1")
    with connection_scope():
        [(_, counters)] = [r for r in bot.app.plugins.call_each("plugbot_stats") if r[0] == "expenses"]
    assert counters == {"expenses_total": 2, "expenses_users": 2, "recurring_active": 1}


def test_plugin_loads_with_its_defaults(bot) -> None:
    settings = bot.app.plugin_settings("expenses")
    assert settings["default_currency"] == "USD" and settings["page_size"] == 5
    assert {"add", "list", "undo", "stats", "export", "categories", "budget", "recurring", "settings",
            "rate"} <= {c.name for c in bot.app.routes.commands_of("expenses")}


def test_plugin_is_written_for_plugin_api_2(bot) -> None:
    from framework.plugins import api_compatible

    spec = bot.app.plugins.plugins["expenses"].info.api_version
    assert api_compatible(spec, "2.0") and not api_compatible(spec, "1.0")


def test_under_another_name_the_plugin_uses_that_names_settings_and_cache(bot_factory) -> None:
    """Loaded as ``spending``: its settings, texts and cache namespace are spending's, and /deleteme
    drops the cached categories there (1.x cleared the namespace of a constant "expenses")."""
    from framework import User
    from plugins.expenses.categories import cache_key

    bot = bot_factory(plugins={"spending": {"module": "plugins.expenses", "default_currency": "EUR"}})
    bot.set_time(START)
    dana = bot.user(4004, first_name="Dana", language_code="en")
    assert texts(dana.send("coffee 5")) == "✅ Saved: €5.00 · 🍔 Food · coffee · 2025-03-12"  # spending's currency
    with connection_scope():
        user_id = User.get(User.telegram_id == 4004).id
    cache = bot.app.plugin_cache("spending")
    assert cache.get(cache_key(user_id)) is not None
    dana.send("/deleteme")
    dana.press("Yes, delete everything")
    assert cache.get(cache_key(user_id)) is None
    assert "plugin:expenses" not in bot.app.caches()


def test_bad_config_is_reported_with_key_paths(bot_factory) -> None:
    from framework import ConfigError

    with pytest.raises(ConfigError) as err:
        bot_factory(plugins={"expenses": {"default_currency": "XYZ", "week_start": 3}})
    message = str(err.value)
    assert "plugins.expenses.default_currency" in message and "plugins.expenses.week_start" in message


# -- locales --------------------------------------------------------------------------


def _catalog(lang: str) -> dict[str, str]:
    from framework.i18n import load_catalog_file

    return load_catalog_file(PLUGIN / "locales" / f"{lang}.yaml")


def test_locales_complete() -> None:
    assert_locales_complete("expenses")


def test_every_key_in_both_languages_with_the_same_placeholders() -> None:
    en, ru = _catalog("en"), _catalog("ru")
    for key in set(en) & set(ru):
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", ru[key])), key


def test_every_key_the_code_uses_exists() -> None:
    en = _catalog("en")
    source = "\n".join(p.read_text(encoding="utf-8") for p in PLUGIN.glob("*.py"))
    used = set(re.findall(r"""\bt\(\s*["']([a-z_][\w.]*)["']""", source))
    used |= set(re.findall(r"""help=["']([\w.]+)["']""", source))
    dynamic_prefixes = {"error.amount.", "error.period.", "categories.error.", "recurring.error.",
                        "settings.error.", "rate.error.", "category.", "weekday.", "button.field."}
    missing = {key for key in used if not key.startswith("core.") and key not in en}
    assert missing == set()
    for prefix in dynamic_prefixes:
        assert any(key.startswith(prefix) for key in en), prefix


def test_error_codes_have_texts() -> None:
    en = _catalog("en")
    for code in ("invalid", "not_positive", "too_large", "too_precise"):
        assert f"error.amount.{code}" in en
    for code in ("invalid", "reversed", "too_long"):
        assert f"error.period.{code}" in en
    for code in ("bad_name", "exists", "too_many", "not_found", "system"):
        assert f"categories.error.{code}" in en
    for code in ("no_schedule", "many_schedules", "no_amount", "many_amounts", "monthly_day", "weekly_day",
                 "daily_has_day", "number"):
        assert f"recurring.error.{code}" in en
    for code in ("bad_switch", "bad_currency", "bad_timezone", "bad_week_start", "bad_threshold",
                 "bad_date_format", "bad_number_format"):
        assert f"settings.error.{code}" in en
    for name in ("Food", "Transport", "Entertainment", "Bills", "Shopping", "Health", "Other"):
        assert f"category.{name}" in en


def test_locale_files_are_plain_yaml_mappings() -> None:
    for lang in ("en", "ru"):
        assert isinstance(yaml.safe_load((PLUGIN / "locales" / f"{lang}.yaml").read_text(encoding="utf-8")), dict)


# -- migration ------------------------------------------------------------------------


@pytest.fixture
def empty_db(database: str, tmp_path, request):
    url = request.getfixturevalue("postgres_url") if database == "postgres" else f"sqlite:///{tmp_path}/m.db"
    real = dbmod.connect(url)
    dbmod.database.initialize(real)
    real.connect()
    real.create_tables(CORE_MODELS)
    yield real
    real.close()
    if hasattr(real, "close_all"):
        real.close_all()


def test_migration_creates_the_schema_and_seeds_once(empty_db) -> None:
    runner = Runner(empty_db, str(PLUGIN / "migrations"), table_name="expenses_migration_test")
    assert runner.up() == ["0001_initial"]
    module = runner.migrations()[0].load()
    with empty_db.atomic():
        module.up(runner.migrator, empty_db)  # a re-run must not duplicate the seed
    names = [c.name for c in Category.select().order_by(Category.sort_order)]
    assert names == ["Food", "Transport", "Entertainment", "Bills", "Shopping", "Health", "Other"]
    tables = set(empty_db.get_tables())
    assert {m._meta.table_name for m in MODELS} <= tables
    indexes = {i.name for i in empty_db.get_indexes("expenses")}
    assert any(set(i.columns) == {"user_id", "expense_date"} for i in empty_db.get_indexes("expenses")), indexes
    assert runner.down() == ["0001_initial"]
    assert not ({m._meta.table_name for m in MODELS} & set(empty_db.get_tables()))


def test_schema_rejects_what_the_rules_forbid(empty_db) -> None:
    import datetime as dt
    from decimal import Decimal

    import peewee

    from framework import User

    Runner(empty_db, str(PLUGIN / "migrations"), table_name="expenses_migration_test").up()
    user = User.create(telegram_id=1)
    base = {"user": user, "currency": "USD", "expense_date": dt.date(2025, 3, 1)}
    for bad in ({"amount": Decimal("0")}, {"amount": Decimal("-1")}, {"amount": Decimal(1), "source": "magic"}):
        with pytest.raises(peewee.IntegrityError), empty_db.atomic():
            Expense.create(**{**base, **bad})
    with pytest.raises(peewee.IntegrityError), empty_db.atomic():
        Category.create(name="Orphan", is_system=False, user=None)
    with pytest.raises(peewee.IntegrityError), empty_db.atomic():
        Category.create(name="Food", is_system=True, user=None)
    Category.create(name="Mine", user=user)
    with pytest.raises(peewee.IntegrityError), empty_db.atomic():
        Category.create(name="Mine", user=user)
