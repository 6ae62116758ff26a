"""framework/config.py and the plugin half of validation (framework/plugins.py):
every operator mistake is reported with its key path, all at once, before anything is wired."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from framework import ConfigError, create_app, load_config
from framework.plugins import PluginManager

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(HERE))


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def errors_of(path: str | None = None, env: dict[str, str] | None = None, **overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {}, overrides=overrides or None)
    return caught.value.errors


def plugin_errors(tmp_path: Path, plugins: dict[str, Any], **extra: Any) -> list[str]:
    config = load_config(None, env={}, overrides={"database": {"url": f"sqlite:///{tmp_path}/bot.db"},
                                                  "plugins": plugins, **extra})
    with pytest.raises(ConfigError) as caught:
        PluginManager(config).load()
    return caught.value.errors


# -- core settings ---------------------------------------------------------------------


def test_defaults_are_a_complete_config() -> None:
    config = load_config(None, env={})
    assert config["workers"] == 4
    assert config["telegram"]["token"] == ""
    assert config["database"]["url"] == "sqlite:///data/bot.db"
    assert config["plugins"] == {}


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "workers: 2\ncolour: blue\n")
    assert errors_of(path) == ["colour: unknown setting"]


def test_unknown_nested_key_names_the_full_path(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  tokn: abc\n  webhook:\n    prot: 80\n")
    assert sorted(errors_of(path)) == ["telegram.tokn: unknown setting", "telegram.webhook.prot: unknown setting"]


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("workers: many\n", "workers: expected an integer, got 'many'"),
    ("auto_migrate: maybe\n", "auto_migrate: expected true or false, got 'maybe'"),
    ("telegram:\n  polling:\n    timeout: soon\n", "telegram.polling.timeout: expected an integer, got 'soon'"),
    ("telegram:\n  mode: pigeon\n", "telegram.mode: must be one of polling, webhook, got 'pigeon'"),
    ("database: sqlite\n", "database: expected a mapping, got 'sqlite'"),
    ("sender:\n  private_interval: slow\n", "sender.private_interval: expected a number, got 'slow'"),
    ("admins: [1, two]\n", "admins: expected Telegram user ids (integers), got 'two'"),
    ("plugins: [hello]\n", "plugins: expected a mapping of plugin name → settings, got ['hello']"),
    ("plugins:\n  hello: yes\n", "plugins.hello: expected a mapping of settings, got True"),
    ("plugins:\n  hello:\n    enabled: perhaps\n", "plugins.hello.enabled: expected true or false, got 'perhaps'"),
    ("telegram:\n  token: 'my bot token'\n",
     "telegram.token: not a bot token (expected the <id>:<secret> that @BotFather gave)"),
    ("telegram:\n  mode: webhook\n",
     "telegram.webhook.secret_token: required in webhook mode (TELEGRAM_WEBHOOK_SECRET)"),
])
def test_wrong_types_name_the_key_path(tmp_path: Path, yaml_text: str, expected: str) -> None:
    assert errors_of(write(tmp_path, yaml_text)) == [expected]


def test_every_problem_is_reported_in_one_pass(tmp_path: Path) -> None:
    path = write(tmp_path, "workers: many\ncolour: blue\nlogging:\n  level: LOUD\n")
    assert sorted(errors_of(path)) == [
        "colour: unknown setting",
        "logging.level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'",
        "workers: expected an integer, got 'many'",
    ]


def test_strings_from_the_environment_are_coerced(tmp_path: Path) -> None:
    path = write(tmp_path, "workers: ${WORKERS:-8}\nauto_migrate: ${AUTO:-no}\nadmins: '5, 6'\n")
    config = load_config(path, env={"WORKERS": "3"})
    assert (config["workers"], config["auto_migrate"], config["admins"]) == (3, False, [5, 6])


def test_not_valid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "workers: 2\ntelegram: [unclosed\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}: not valid YAML (line ")


def test_missing_file_and_non_mapping_top_level(tmp_path: Path) -> None:
    assert errors_of(str(tmp_path / "nope.yaml")) == [f"{tmp_path / 'nope.yaml'}: config file not found"]
    path = write(tmp_path, "- just\n- a list\n")
    assert errors_of(path) == [f"{path}: the top level must be a mapping of settings"]


# -- ${VAR} interpolation and environment overrides -------------------------------------------


def test_interpolation_with_and_without_default(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  token: ${TOKEN}\n  api_url: ${API:-http://localhost:8081}\n"
                           "database:\n  url: sqlite:///${DATA_DIR:-data}/bot.db\n")
    config = load_config(path, env={"TOKEN": "123:abc", "DATA_DIR": "/srv"})
    assert config["telegram"]["token"] == "123:abc"
    assert config["telegram"]["api_url"] == "http://localhost:8081"
    assert config["database"]["url"] == "sqlite:////srv/bot.db"


def test_empty_variable_takes_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  api_url: ${API:-http://localhost:8081}\n")
    assert load_config(path, env={"API": ""})["telegram"]["api_url"] == "http://localhost:8081"


def test_unset_variable_without_default_names_key_and_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  token: ${MY_TOKEN}\n  webhook:\n    url: https://${HOST}/hook\n")
    assert sorted(errors_of(path)) == [
        "telegram.token: environment variable MY_TOKEN is not set (use ${MY_TOKEN:-default})",
        "telegram.webhook.url: environment variable HOST is not set (use ${HOST:-default})",
    ]


def test_environment_variables_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  token: 1:from-file\ndatabase:\n  url: sqlite:///file.db\n"
                           "redis:\n  url: redis://file:6379/0\nadmins: [1]\n")
    env = {"TELEGRAM_BOT_TOKEN": "42:env", "DATABASE_URL": "postgresql://env@db/bot",
           "REDIS_URL": "redis://env:6379/1", "BOT_ADMIN_IDS": "7, 8"}
    config = load_config(path, env=env)
    assert config["telegram"]["token"] == "42:env"
    assert config["database"]["url"] == "postgresql://env@db/bot"
    assert config["redis"]["url"] == "redis://env:6379/1"
    assert config["admins"] == [7, 8]


def test_file_values_stay_when_the_environment_is_silent(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram:\n  token: 1:from-file\nadmins: [1]\n")
    config = load_config(path, env={"TELEGRAM_BOT_TOKEN": "", "BOT_ADMIN_IDS": ""})
    assert (config["telegram"]["token"], config["admins"]) == ("1:from-file", [1])


def test_bad_admin_ids_from_the_environment_are_reported() -> None:
    assert errors_of(env={"BOT_ADMIN_IDS": "12,bob"}) == [
        "admins: expected Telegram user ids (integers), got 'bob'"]


# -- plugin sections (checked once the plugins are imported) ---------------------------------------


def test_plugin_that_cannot_be_imported(tmp_path: Path) -> None:
    (error,) = plugin_errors(tmp_path, {"ghost": {"module": "no_such_package.plugin"}})
    assert error.startswith("plugins.ghost: cannot import 'no_such_package.plugin'")


def test_plugin_without_module_or_entry_point(tmp_path: Path) -> None:
    (error,) = plugin_errors(tmp_path, {"ghost": {}})
    assert error.startswith("plugins.ghost: cannot import 'ghost'")


def test_missing_required_plugin_setting(tmp_path: Path) -> None:
    errors = plugin_errors(tmp_path, {"needs_key": {"module": "plugins_for_tests.needs_key"}})
    assert errors == ["plugins.needs_key.api_key: required setting missing"]


def test_required_setting_left_empty_by_interpolation_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "plugins:\n  needs_key:\n    module: plugins_for_tests.needs_key\n"
                           "    api_key: ${NEEDS_KEY_API_KEY:-}\n")
    config = load_config(path, env={})
    with pytest.raises(ConfigError) as caught:
        PluginManager(config).load()
    assert caught.value.errors == ["plugins.needs_key.api_key: required setting missing"]


def test_required_setting_given_and_defaults_merged(tmp_path: Path) -> None:
    config = load_config(None, env={}, overrides={"plugins": {"needs_key": {
        "module": "plugins_for_tests.needs_key", "api_key": "s3cret", "limit": "25"}}})
    manager = PluginManager(config)
    manager.load()
    assert manager.plugins["needs_key"].settings == {"api_key": "s3cret", "limit": 25}


def test_unknown_and_mistyped_plugin_settings(tmp_path: Path) -> None:
    errors = plugin_errors(tmp_path, {"hello": {"module": "plugbot_hello", "morning_hour": "early",
                                                "greting_emoji": "x"}})
    assert sorted(errors) == ["plugins.hello.greting_emoji: unknown setting",
                              "plugins.hello.morning_hour: expected an integer, got 'early'"]


def test_plugin_and_core_errors_are_reported_by_create_app(tmp_path: Path) -> None:
    path = write(tmp_path, "plugins:\n  needs_key:\n    module: plugins_for_tests.needs_key\n")
    with pytest.raises(ConfigError, match=r"plugins\.needs_key\.api_key: required setting missing"):
        create_app(path, overrides={"database": {"url": f"sqlite:///{tmp_path}/bot.db"}})


def test_a_broken_config_never_starts_a_half_working_bot(tmp_path: Path) -> None:
    """The plugins are checked before the database is even opened: nothing is created."""
    db_file = tmp_path / "never" / "bot.db"
    config = load_config(None, env={}, overrides={
        "database": {"url": f"sqlite:///{db_file}"},
        "plugins": {"hello": {"module": "plugbot_hello", "morning_hour": 99},
                    "needs_key": {"module": "plugins_for_tests.needs_key"}}})
    with pytest.raises(ConfigError) as caught:
        create_app(config)
    assert sorted(caught.value.errors) == ["plugins.hello.morning_hour: must be between 0 and 23",
                                           "plugins.needs_key.api_key: required setting missing"]
    assert not os.path.exists(db_file)


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("workers: 0\n", "workers: must be at least 1, got 0"),
    ("sessions: {ttl: -5}\n", "sessions.ttl: must be at least 1, got -5"),
    ("ratelimit: {messages_per_minute: 0}\n", "ratelimit.messages_per_minute: must be at least 1, got 0"),
])
def test_out_of_range_numbers_name_the_key_path(tmp_path: Path, yaml_text: str, expected: str) -> None:
    assert expected in errors_of(write(tmp_path, yaml_text))


def test_webhook_mode_needs_a_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram: {mode: webhook}\n")
    assert any(e.startswith("telegram.webhook.secret_token: required in webhook mode")
               for e in errors_of(path, env={}))
