"""Configuration: YAML file → ``${VAR:-default}`` interpolation → env overrides → validation.

Every problem is collected (not just the first) and reported as one line
naming its key path, e.g. ``workers: expected an integer, got 'many'``, so an
operator fixes a broken config in one pass. A broken config never starts a
half-working bot: :class:`ConfigError` is raised before anything is wired.
"""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any

import yaml

from .redaction import describe_error, register_config


class ConfigError(Exception):
    """The configuration is unusable; ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str], *, partial: dict[str, Any] | None = None):
        self.errors = list(errors)
        # The config as read, when only its validation failed: check-config still reaches the
        # database and Redis it names, so one run reports every problem.
        self.partial = partial
        super().__init__("\n".join(self.errors))


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Value of a plugin setting the operator must provide (see ``plugbot_config_defaults``)."""

# Core settings with their defaults; the type of each default is the type a value must have.
DEFAULTS: dict[str, Any] = {
    "telegram": {
        "token": "",
        "api_url": "https://api.telegram.org",
        "mode": "polling",
        "polling": {"timeout": 25, "limit": 100},
        "webhook": {"url": "", "secret_token": "", "listen": "0.0.0.0", "port": 8080, "path": "/webhook",
                    # Telegram's simultaneous connections to the webhook (1-100; its default is 40)
                    "max_connections": 40,
                    # gunicorn's processes and each one's threads (gunicorn.conf.py; WEB_CONCURRENCY and
                    # PLUGBOT_GUNICORN_THREADS win), and the seconds a silent worker lives
                    "gunicorn": {"workers": 2, "threads": 8, "timeout": 30}},
    },
    "database": {"url": "sqlite:///data/bot.db", "pool_size": 20},
    "redis": {"url": "", "prefix": ""},
    "admins": [],
    "workers": 4,
    "processes": 1,
    "queue": {"max_attempts": 5, "max_backlog": 10_000},
    "auto_migrate": True,
    "strict_plugins": False,
    "default_language": "en",
    "logging": {"level": "INFO", "format": "plain"},
    "sessions": {"ttl": 300, "timeout_notice": 1800},
    "ratelimit": {"messages_per_minute": 30, "backend": "auto"},
    "cache": {"default_ttl": 3600, "max_value_bytes": 100_000, "user_ttl": 3600},
    "sender": {"global_per_second": 30, "private_interval": 1.0, "group_per_minute": 20, "max_retries": 5},
    "access": {"mode": "open", "restricted_messages_per_minute": 5},
    "consent": {"required": False},
    "audit": {"retention_days": 365},
    "retention": {"remind_after_days": 90, "archive_after_days": 180},
    "circuit_breaker": {"users": 3, "window_seconds": 300, "pause_seconds": 600, "user_errors": 3,
                        "user_pause_seconds": 60},
    "llm": {"timeout": 20, "retries": 2, "cache_ttl": 86400},
    # Which process runs the jobs (docs/deployment.md, "Jobs with several processes").
    "scheduler": {"leader": "auto", "lease_seconds": 10.0},
    # /metrics of a polling bot on a port of its own (0: none); in webhook mode it is on the webhook's port
    "metrics": {"port": 0, "listen": "127.0.0.1"},
    "plugins": {},
}

CHOICES: dict[str, tuple[str, ...]] = {
    "telegram.mode": ("polling", "webhook"),
    "logging.format": ("plain", "json"),
    "logging.level": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
    "ratelimit.backend": ("auto", "memory", "redis", "db"),
    "access.mode": ("open", "whitelist"),
    "scheduler.leader": ("auto", "redis", "postgres", "none"),
}

# Smallest value each numeric setting accepts (0 for the sender's limits means "off").
MINIMUMS: dict[str, float] = {
    "workers": 1, "processes": 1, "queue.max_attempts": 1, "queue.max_backlog": 1, "database.pool_size": 1, "sessions.ttl": 1, "sessions.timeout_notice": 1,
    "ratelimit.messages_per_minute": 1, "access.restricted_messages_per_minute": 1, "cache.default_ttl": 1, "cache.max_value_bytes": 1, "cache.user_ttl": 1,
    "sender.global_per_second": 0, "sender.private_interval": 0, "sender.group_per_minute": 0,
    "sender.max_retries": 0, "audit.retention_days": 1, "retention.remind_after_days": 1,
    "retention.archive_after_days": 1, "circuit_breaker.users": 1, "circuit_breaker.window_seconds": 1,
    "circuit_breaker.pause_seconds": 1, "circuit_breaker.user_errors": 1, "circuit_breaker.user_pause_seconds": 1, "llm.timeout": 1, "llm.retries": 0, "llm.cache_ttl": 0,
    "scheduler.lease_seconds": 1,
    "telegram.polling.timeout": 0, "telegram.polling.limit": 1, "telegram.webhook.port": 1,
    "telegram.webhook.max_connections": 1, "telegram.webhook.gunicorn.workers": 1,
    "telegram.webhook.gunicorn.threads": 1, "telegram.webhook.gunicorn.timeout": 1, "metrics.port": 0,
}

# Settings that changed meaning: the line an operator upgrading an old config gets.
RENAMED: dict[str, str] = {
    "circuit_breaker.errors": "replaced by circuit_breaker.users, how many distinct users' updates must fail "
                              "within the window to pause a plugin (one user's failures only hold off that user)",
}

# Environment variables that win over the file (ARCHITECTURE.md).
ENV_OVERRIDES: dict[str, str] = {
    "TELEGRAM_BOT_TOKEN": "telegram.token",
    "TELEGRAM_API_URL": "telegram.api_url",
    "TELEGRAM_WEBHOOK_SECRET": "telegram.webhook.secret_token",
    "DATABASE_URL": "database.url",
    "REDIS_URL": "redis.url",
    "BOT_ADMIN_IDS": "admins",
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def load_config(path: str | None = None, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read, interpolate, override and validate the core part of a config.

    ``overrides`` (a nested mapping) is merged last; tests use it instead of
    writing YAML files. Plugin sections are checked later, once the plugins
    are imported (see ``framework.plugins``).
    """
    env = os.environ if env is None else env
    errors: list[str] = []
    raw: Any = {}
    if path is not None:
        raw = _read_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of settings"])
    raw = _interpolate(raw, env, "", errors)
    for var, key_path in ENV_OVERRIDES.items():
        if env.get(var):
            _set_path(raw, key_path, env[var])
    if overrides:
        raw = _merge(raw, overrides)
    config = _merge(copy.deepcopy(DEFAULTS), raw)
    register_config(config)  # before anything can print a value: the errors below included
    _validate(config, DEFAULTS, "", errors)
    _validate_webhook(config, errors)
    _validate_processes(config, errors)
    _validate_token(config, errors)
    if errors:
        raise ConfigError(errors, partial=config)
    return config


def _read_yaml(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a config file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read it: {describe_error(exc)}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError([f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None


def _interpolate(value: Any, env: Mapping[str, str], key: str, errors: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, env, _join(key, str(k)), errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, f"{key}[{i}]", errors) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and (env[name] != "" or default is None):
            return env[name]
        if default is not None:
            return default
        errors.append(f"{key}: environment variable {name} is not set (use ${{{name}:-default}})")
        return ""

    return _VAR.sub(substitute, value)


def _validate(value: Any, default: Any, key: str, errors: list[str]) -> None:
    if isinstance(default, dict) and key != "plugins":
        if not isinstance(value, dict):
            errors.append(f"{key}: expected a mapping, got {_show(value)}")
            return
        for sub, sub_value in value.items():
            sub_key = _join(key, str(sub))
            if sub_key in RENAMED:
                errors.append(f"{sub_key}: {RENAMED[sub_key]}")
                continue
            if sub not in default:
                errors.append(f"{sub_key}: unknown setting")
                continue
            value[sub] = _coerce(sub_value, default[sub], sub_key, errors)
            _validate(value[sub], default[sub], sub_key, errors)
        return
    if key == "plugins":
        _validate_plugin_sections(value, errors)
    if key in MINIMUMS and isinstance(value, (int, float)) and value < MINIMUMS[key]:
        errors.append(f"{key}: must be at least {MINIMUMS[key]:g}, got {_show(value)}")
    if key in CHOICES and value not in CHOICES[key]:
        errors.append(f"{key}: must be one of {', '.join(CHOICES[key])}, got {_show(value)}")


def _validate_token(config: dict[str, Any], errors: list[str]) -> None:
    """The shape pyTelegramBotAPI insists on, checked here so a typo is a config error, not a traceback."""
    telegram = config.get("telegram")
    token = telegram.get("token") if isinstance(telegram, dict) else None
    if isinstance(token, str) and token and (token.count(":") != 1 or any(ch.isspace() for ch in token)):
        errors.append("telegram.token: not a bot token (expected the <id>:<secret> that @BotFather gave)")


def _validate_processes(config: dict[str, Any], errors: list[str]) -> None:
    problem = processes_problem(config, config.get("processes"))
    if problem is not None:
        errors.append(problem)


def processes_problem(config: dict[str, Any], processes: Any) -> str | None:
    """Why ``processes`` worker processes cannot serve this config, or None: SQLite's queue is one
    process's (framework.update_queue), so several processes would each take the same chats."""
    database = config.get("database")
    url = database.get("url") if isinstance(database, dict) else None
    if isinstance(processes, int) and processes > 1 and isinstance(url, str) and url.startswith("sqlite"):
        return f"processes: {processes} worker processes need PostgreSQL (database.url); SQLite serves one process"
    return None


def _validate_webhook(config: dict[str, Any], errors: list[str]) -> None:
    """Webhook mode without a secret would accept updates from anyone who finds the URL."""
    telegram = config.get("telegram")
    webhook = telegram.get("webhook") if isinstance(telegram, dict) else None
    connections = webhook.get("max_connections") if isinstance(webhook, dict) else None
    if isinstance(connections, int) and connections > 100:  # Telegram refuses more
        errors.append(f"telegram.webhook.max_connections: at most 100 (Telegram's limit), got {connections}")
    if not isinstance(telegram, dict) or telegram.get("mode") != "webhook" or not isinstance(telegram.get("webhook"), dict):
        return
    if not telegram["webhook"].get("secret_token"):
        errors.append("telegram.webhook.secret_token: required in webhook mode (TELEGRAM_WEBHOOK_SECRET)")


def _validate_plugin_sections(value: Any, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"plugins: expected a mapping of plugin name → settings, got {_show(value)}")
        return
    for name, section in list(value.items()):
        if section is None:
            value[name] = section = {}
        if not isinstance(section, dict):
            errors.append(f"plugins.{name}: expected a mapping of settings, got {_show(section)}")
            continue
        section["enabled"] = _coerce(section.get("enabled", True), True, f"plugins.{name}.enabled", errors)
        if "module" in section and not isinstance(section["module"], str):
            errors.append(f"plugins.{name}.module: expected a dotted module path")


def coerce_setting(value: Any, default: Any, key: str, errors: list[str]) -> Any:
    """Coerce ``value`` to the type of ``default`` (strings from env vars become ints, bools, lists)."""
    return _coerce(value, default, key, errors)


def _coerce(value: Any, default: Any, key: str, errors: list[str]) -> Any:
    if default is None or default is REQUIRED or isinstance(default, dict):
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.strip().lower() in ("true", "yes", "on", "1")
        errors.append(f"{key}: expected true or false, got {_show(value)}")
        return default
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        errors.append(f"{key}: expected an integer, got {_show(value)}")
        return default
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError):
            errors.append(f"{key}: expected a number, got {_show(value)}")
            return default
    if isinstance(default, list):
        return _coerce_list(value, key, errors)
    if isinstance(default, str):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        errors.append(f"{key}: expected a string, got {_show(value)}")
        return default
    return value


def _coerce_list(value: Any, key: str, errors: list[str]) -> list[Any]:
    if value in (None, ""):
        return []
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if isinstance(items, int):
        items = [items]
    if not isinstance(items, list):
        errors.append(f"{key}: expected a list, got {_show(value)}")
        return []
    if key == "admins":
        result = []
        for item in items:
            try:
                result.append(int(item))
            except (TypeError, ValueError):
                errors.append(f"{key}: expected Telegram user ids (integers), got {_show(item)}")
        return result
    return items


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
