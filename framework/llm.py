"""LLM provider service: one ``complete()`` call, whichever vendor the admin picked.

The admin chooses the active vendor and its model in the ``app_settings``
row, at runtime; API keys come only from the process environment (or the
constructor), so they are never written to the database; they are registered
with :mod:`framework.redaction`, so they never appear in a log line or anywhere
else. Every call has a caller-supplied ``fallback`` producing template text:
it is the whole ``local`` vendor, and it is also what the user gets
when a remote vendor is unconfigured, down, slow or refuses the request. A
user therefore always gets an answer, and the bot works fully offline.

Remote answers are cached in ``llm_cache`` (identical prompts are common:
daily texts, fixed explanations) and counted per user in ``usage_stats``.
Both are bookkeeping: if writing them fails, the error is logged and the
answer is still returned.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import peewee
import requests

from . import db
from .models import AppSettings, LlmCache, UsageStats
from .redaction import redact, register_secret

log = logging.getLogger(__name__)

LOCAL = "local"
VENDORS = (LOCAL, "openai", "proxiapi", "yandex")
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "proxiapi": "https://api.proxyapi.ru/openai/v1",
    "yandex": "https://llm.api.cloud.yandex.net",
}
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "proxiapi": "gpt-4o-mini", "yandex": "yandexgpt-lite/latest"}
ENV_API_KEYS = {"openai": "OPENAI_API_KEY", "proxiapi": "PROXIAPI_API_KEY", "yandex": "YANDEX_API_KEY"}
ENV_YANDEX_FOLDER = "YANDEX_FOLDER_ID"


@dataclass(frozen=True)
class LLMResult:
    """The answer and where it came from.

    ``tokens`` are the tokens this call spent: 0 for cache hits and local answers.
    ``fell_back`` is True when a remote vendor was active but the local
    fallback answered instead.
    """

    text: str
    vendor: str
    tokens: int
    cached: bool
    fell_back: bool


@dataclass(frozen=True)
class LlmSettings:
    """The admin-controlled part: active vendor and per-vendor options (model, base_url, folder_id)."""

    vendor: str = LOCAL
    config: Mapping[str, Any] = field(default_factory=dict)

    def vendor_config(self, vendor: str) -> dict[str, Any]:
        value = self.config.get(vendor) if isinstance(self.config, Mapping) else None
        return dict(value) if isinstance(value, Mapping) else {}


def load_app_settings() -> LlmSettings:
    """Read the single ``app_settings`` row; no row yet means the offline ``local`` vendor."""
    with db.connection_scope():
        row = AppSettings.get_or_none(AppSettings.id == 1)
    if row is None:
        return LlmSettings()
    return LlmSettings(vendor=(row.active_llm_vendor or LOCAL).strip().lower(), config=row.llm_config or {})


def secrets_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """API keys by vendor from ``OPENAI_API_KEY``, ``PROXIAPI_API_KEY`` and ``YANDEX_API_KEY``."""
    env = os.environ if environ is None else environ
    # An env file or a mounted secret often ends in a newline, which no HTTP header may carry.
    keys = {vendor: env.get(name, "").strip() for vendor, name in ENV_API_KEYS.items()}
    return {vendor: key for vendor, key in keys.items() if key}


class VendorError(Exception):
    """A vendor call failed; ``retryable`` says whether trying again could help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class _Call:
    """One prepared HTTP request to a vendor, plus how to read its answer."""

    vendor: str
    model: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    parse: Callable[[Any], tuple[str, int]]


def normalize_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Chat messages as ``{"role", "content"}``; ``text`` is accepted for ``content`` (Yandex style)."""
    normalized = []
    for message in messages:
        role = message.get("role")
        content = message.get("content", message.get("text"))
        if not isinstance(role, str) or not isinstance(content, str):
            raise ValueError(f"each message needs a string 'role' and 'content', got {message!r}")
        normalized.append({"role": role, "content": content})
    return normalized


def cache_key(vendor: str, model: str, messages: list[dict[str, str]], temperature: float, max_tokens: int) -> str:
    """sha256 of everything that shapes the answer.

    ``max_tokens`` is part of it because an answer cut at 100 tokens must not
    be served to a caller who asked for 800.
    """
    material = json.dumps(
        {"vendor": vendor, "model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


# -- vendor adapters --------------------------------------------------------


def _parse_openai(data: Any) -> tuple[str, int]:
    text = data["choices"][0]["message"]["content"]
    tokens = (data.get("usage") or {}).get("total_tokens") or 0
    return str(text), int(tokens)


def _parse_yandex(data: Any) -> tuple[str, int]:
    result = data["result"]
    text = result["alternatives"][0]["message"]["text"]
    tokens = (result.get("usage") or {}).get("totalTokens") or 0  # int64 arrives as a JSON string
    return str(text), int(tokens)


def _openai_call(vendor: str, cfg: dict[str, Any], api_key: str, messages: list[dict[str, str]],
                 temperature: float, max_tokens: int) -> _Call:
    model = cfg.get("model") or DEFAULT_MODELS[vendor]
    base_url = (cfg.get("base_url") or DEFAULT_BASE_URLS[vendor]).rstrip("/")
    return _Call(
        vendor=vendor,
        model=model,
        url=f"{base_url}/chat/completions",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        body={"model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens},
        parse=_parse_openai,
    )


def _yandex_call(cfg: dict[str, Any], api_key: str, folder_id: str, messages: list[dict[str, str]],
                 temperature: float, max_tokens: int) -> _Call:
    model = cfg.get("model") or DEFAULT_MODELS["yandex"]
    base_url = (cfg.get("base_url") or DEFAULT_BASE_URLS["yandex"]).rstrip("/")
    return _Call(
        vendor="yandex",
        model=model,
        url=f"{base_url}/foundationModels/v1/completion",
        headers={"Authorization": f"Api-Key {api_key}", "x-folder-id": folder_id, "Content-Type": "application/json"},
        body={
            "modelUri": f"gpt://{folder_id}/{model}",
            "completionOptions": {"stream": False, "temperature": temperature, "maxTokens": max_tokens},
            "messages": [{"role": m["role"], "text": m["content"]} for m in messages],
        },
        parse=_parse_yandex,
    )


# -- the service ------------------------------------------------------------


class LLMService:
    """Completions from the admin-selected vendor, with retries, cache, usage accounting and a local fallback."""

    def __init__(
        self,
        settings_loader: Callable[[], LlmSettings] = load_app_settings,
        *,
        secrets: Mapping[str, str] | None = None,
        yandex_folder_id: str | None = None,
        timeout: float = 20,
        retries: int = 2,
        backoff: float = 0.5,
        cache_ttl: float = 86400,
        http: requests.Session | None = None,
        clock: Callable[[], datetime] = db.utcnow,
    ) -> None:
        self._settings_loader = settings_loader
        self.clock = clock  # the application's: cache expiry and usage times follow it
        for key in (secrets or {}).values():
            register_secret(key)  # vendors echo keys in errors, and requests quotes a bad header
        self._secrets = {vendor: key.strip() for vendor, key in (secrets or {}).items() if key and key.strip()}
        self._yandex_folder_id = yandex_folder_id
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.cache_ttl = cache_ttl
        self.http = http if http is not None else requests.Session()
        self._anonymous_usage_lock = threading.Lock()

    @classmethod
    def from_env(
        cls,
        settings_loader: Callable[[], LlmSettings] = load_app_settings,
        *,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> LLMService:
        """Build the service with keys from ``*_API_KEY`` and the folder from ``YANDEX_FOLDER_ID``."""
        env = os.environ if environ is None else environ
        return cls(settings_loader, secrets=secrets_from_env(env),
                   yandex_folder_id=env.get(ENV_YANDEX_FOLDER) or None, **kwargs)

    def active_vendor(self) -> str:
        return self._load_settings().vendor

    def key_status(self) -> dict[str, str]:
        """Each remote vendor's API key as an admin may see it: masked (``••••`` and at most the last
        four characters), ``—`` when unset. Keys come only from the environment."""
        from .runtime import mask_secret

        shown = {vendor: mask_secret(self._secrets.get(vendor)) for vendor in ENV_API_KEYS}
        shown["yandex_folder_id"] = mask_secret(self._yandex_folder_id)
        return shown

    @staticmethod
    def key_variable(vendor: str) -> str | None:
        """The environment variable a vendor's API key is read from (``OPENAI_API_KEY`` for
        ``openai``), for telling an operator where a key goes; None for a vendor without a key."""
        return ENV_API_KEYS.get(vendor)

    def cache_ttl_for(self, settings: LlmSettings) -> float:
        """The llm_cache lifetime: the admins' ``llm_config.cache_ttl`` (seconds), else the config's."""
        value = settings.config.get("cache_ttl") if isinstance(settings.config, Mapping) else None
        try:
            return float(value) if value is not None and float(value) > 0 else self.cache_ttl
        except (TypeError, ValueError):
            return self.cache_ttl

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        user_id: int | None,
        fallback: Callable[[], str],
        cache: bool = True,
        temperature: float = 0.7,
        max_tokens: int = 800,
    ) -> LLMResult:
        """Answer ``messages`` with the active vendor, or with ``fallback()`` when it cannot.

        ``user_id`` is the internal ``users.id`` (not the Telegram id) the
        usage is counted for; None counts it as system usage.
        """
        chat = normalize_messages(messages)
        settings = self._load_settings()
        if settings.vendor == LOCAL:
            return self._local(fallback, fell_back=False)
        call = self._prepare(settings, chat, temperature, max_tokens)
        if call is None:
            return self._local(fallback, fell_back=True)
        key = cache_key(call.vendor, call.model, chat, temperature, max_tokens)
        if cache:
            hit = self._cache_get(call.vendor, key)
            if hit is not None:
                return LLMResult(hit, call.vendor, 0, cached=True, fell_back=False)
        try:
            text, tokens = self._send(call)
        except VendorError as exc:
            log.warning("LLM vendor %s failed, answering with the local fallback: %s",
                        call.vendor, self._mask(str(exc)))
            return self._local(fallback, fell_back=True)
        self._record_usage(user_id, call.vendor, tokens)
        if cache:
            self._cache_put(call, key, text, tokens, temperature, max_tokens, ttl=self.cache_ttl_for(settings))
        return LLMResult(text, call.vendor, tokens, cached=False, fell_back=False)

    def prune_cache(self, now: datetime | None = None) -> int:
        """Delete rows expired at ``now`` (default: the current time); returns how many.

        Scheduled hourly as ``maintenance.prune_llm_cache``, which passes the
        application's clock like every other housekeeping job.
        """
        cutoff = now if now is not None else self.clock()
        with db.connection_scope():
            return (
                LlmCache.delete()
                .where(LlmCache.expires_at.is_null(False) & (LlmCache.expires_at <= cutoff))
                .execute()
            )

    def usage(self) -> dict[str, dict[str, int]]:
        """Requests, tokens and users per vendor from ``usage_stats`` (the admins' statistics),
        read in the caller's connection: ``{"openai": {"requests": 12, "tokens": 3400, "users": 3}}``."""
        rows = (UsageStats.select(UsageStats.vendor, peewee.fn.SUM(UsageStats.total_requests), peewee.fn.SUM(UsageStats.total_tokens),
                                  peewee.fn.COUNT(UsageStats.user))
                .group_by(UsageStats.vendor).order_by(UsageStats.vendor).tuples())
        return {vendor or "—": {"requests": int(requests or 0), "tokens": int(tokens or 0), "users": int(users or 0)}
                for vendor, requests, tokens, users in rows}

    # -- steps of complete() --------------------------------------------------

    def _load_settings(self) -> LlmSettings:
        """The current settings; a failure to read them means ``local`` rather than no answer."""
        try:
            settings = self._settings_loader()
        except Exception:  # noqa: BLE001 - the loader may be any callable; the reply must not fail
            log.exception("cannot load LLM settings, using the local vendor")
            return LlmSettings()
        return settings

    def _local(self, fallback: Callable[[], str], *, fell_back: bool) -> LLMResult:
        return LLMResult(fallback(), LOCAL, 0, cached=False, fell_back=fell_back)

    def _prepare(self, settings: LlmSettings, chat: list[dict[str, str]],
                 temperature: float, max_tokens: int) -> _Call | None:
        """Build the request for the active vendor, or None (logged) if it cannot be configured."""
        vendor = settings.vendor
        if vendor not in VENDORS:
            log.warning("unknown LLM vendor %r in app_settings (known: %s)", vendor, ", ".join(VENDORS))
            return None
        cfg = settings.vendor_config(vendor)
        if "api_key" in cfg:
            log.warning("ignoring api_key in llm_config.%s: API keys come only from the environment", vendor)
        api_key = self._secrets.get(vendor)
        if not api_key:
            log.warning("LLM vendor %s is active but %s is not set", vendor, ENV_API_KEYS[vendor])
            return None
        if vendor != "yandex":
            return _openai_call(vendor, cfg, api_key, chat, temperature, max_tokens)
        folder_id = cfg.get("folder_id") or self._yandex_folder_id
        if not folder_id:
            log.warning("LLM vendor yandex needs llm_config.yandex.folder_id or %s", ENV_YANDEX_FOLDER)
            return None
        return _yandex_call(cfg, api_key, str(folder_id), chat, temperature, max_tokens)

    def _send(self, call: _Call) -> tuple[str, int]:
        """POST with retries: network errors, timeouts and 5xx are retried, 4xx and bad bodies are not."""
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                text, tokens = self._send_once(call)
            except VendorError as exc:
                attempt += 1
                if not exc.retryable or attempt > self.retries:
                    raise
                log.info("LLM vendor %s attempt %d/%d failed, retrying: %s",
                         call.vendor, attempt, self.retries + 1, self._mask(str(exc)))
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            log.info("LLM vendor %s answered in %.2f s, %d tokens", call.vendor, time.perf_counter() - started, tokens)
            return text, tokens

    def _send_once(self, call: _Call) -> tuple[str, int]:
        try:
            response = self.http.post(call.url, json=call.body, headers=call.headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise VendorError(f"no answer within {self.timeout} s", retryable=True) from exc
        except requests.ConnectionError as exc:
            raise VendorError(f"connection failed: {exc}", retryable=True) from exc
        except requests.RequestException as exc:
            raise VendorError(f"request failed: {exc}", retryable=False) from exc
        if response.status_code >= 400:
            raise VendorError(
                f"HTTP {response.status_code}: {response.text[:300]}", retryable=response.status_code >= 500
            )
        try:
            return call.parse(response.json())
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise VendorError(f"unexpected response ({exc.__class__.__name__}): {response.text[:300]}",
                              retryable=False) from exc

    def _mask(self, text: str) -> str:
        """``text`` without any secret, before it is logged (the log handler redacts again)."""
        return redact(text)

    # -- bookkeeping --------------------------------------------------------

    def _cache_get(self, vendor: str, key: str) -> str | None:
        try:
            with db.connection_scope():
                row = LlmCache.get_or_none((LlmCache.vendor == vendor) & (LlmCache.cache_key == key))
        except peewee.PeeweeException:
            log.exception("LLM cache lookup failed, calling the vendor")
            return None
        if row is None or (row.expires_at is not None and row.expires_at <= self.clock()):
            return None
        payload = row.response_payload or {}
        text = payload.get("text") if isinstance(payload, dict) else None
        return text if isinstance(text, str) else None

    def _cache_put(self, call: _Call, key: str, text: str, tokens: int, temperature: float, max_tokens: int,
                   *, ttl: float | None = None) -> None:
        """Upsert the answer. The prompt itself is not stored: it may hold personal data, and the
        hash is enough to find the answer again."""
        now = self.clock()
        values = {
            LlmCache.request_payload: {"model": call.model, "temperature": temperature, "max_tokens": max_tokens},
            LlmCache.response_payload: {"text": text, "tokens": tokens},
            LlmCache.created_at: now,
            LlmCache.expires_at: now + timedelta(seconds=self.cache_ttl if ttl is None else ttl),
        }
        query = LlmCache.insert({LlmCache.vendor: call.vendor, LlmCache.cache_key: key, **values}).on_conflict(
            conflict_target=[LlmCache.vendor, LlmCache.cache_key], update=values
        )
        self._write("cache entry", query.execute)

    def _record_usage(self, user_id: int | None, vendor: str, tokens: int) -> None:
        """Count one request atomically: ``SET total = total + n`` so concurrent calls never lose counts."""
        now = self.clock()
        increments = {
            UsageStats.total_requests: UsageStats.total_requests + 1,
            UsageStats.total_tokens: UsageStats.total_tokens + tokens,
            UsageStats.last_request_at: now,
        }
        row = {UsageStats.user: user_id, UsageStats.vendor: vendor, UsageStats.total_requests: 1,
               UsageStats.total_tokens: tokens, UsageStats.last_request_at: now}
        if user_id is not None:
            query = UsageStats.insert(row).on_conflict(
                conflict_target=[UsageStats.user, UsageStats.vendor], update=increments
            )
            self._write("usage", query.execute)
            return

        # NULLs never conflict in a unique index, so system usage is update-or-insert,
        # serialised in this process to keep a single row per vendor.
        def upsert_anonymous() -> None:
            updated = (UsageStats.update(increments)
                       .where(UsageStats.user.is_null() & (UsageStats.vendor == vendor)).execute())
            if not updated:
                UsageStats.insert(row).execute()

        with self._anonymous_usage_lock:
            self._write("usage", upsert_anonymous)

    def _write(self, what: str, operation: Callable[[], Any]) -> None:
        """Run a bookkeeping write in its own transaction (a savepoint inside a caller's one),
        so its failure is logged and rolled back without touching the caller's work."""
        try:
            with db.connection_scope(), db.database.atomic():
                operation()
        except peewee.PeeweeException:
            log.exception("LLM %s could not be saved", what)
