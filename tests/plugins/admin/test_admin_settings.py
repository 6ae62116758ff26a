"""/llm (secrets masked, vendor, options, cache TTL) and /consent (a new text asks again); every
change applies in every process and is audited."""
from __future__ import annotations

import datetime as dt
from typing import Any

from admin_helpers import ALICE, KEYS, audit_rows, make_bot, person, text, texts

from framework import connection_scope
from framework.models import AppSettings

SECRET = "sk-live-0123456789abcdefWXYZ"


def test_llm_shows_vendor_and_config_with_secrets_masked(bot_factory, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    bot = make_bot(bot_factory, monkeypatch)
    with connection_scope():   # a secret someone put in the config by hand is never shown either
        AppSettings.update(llm_config={"openai": {"model": "gpt-4o-mini", "api_key": "sk-db-secret-987654321"}}
                           ).where(AppSettings.id == 1).execute()
    bot.advance(seconds=6)
    keys = person(bot, KEYS)
    shown = text(keys.send("/llm"))
    assert "Vendor: local" in shown and "gpt-4o-mini" in shown
    assert SECRET not in shown and "sk-db-secret" not in shown
    assert "openai ••••WXYZ" in shown and '"api_key": "••••4321"' in shown and "proxiapi —" in shown

    assert text(keys.send("/llm set openai.api_key sk-another")).startswith("API keys are never stored")
    assert text(keys.send("/llm set openai.model gpt-4o")) == "openai.model is now gpt-4o."
    assert text(keys.send("/llm vendor openai")) == "The LLM vendor is now openai."
    assert text(keys.send("/llm vendor openai")) == "The LLM vendor already is openai."
    assert text(keys.send("/llm vendor skynet")) == "Choose one of: local, openai, proxiapi, yandex."
    assert text(keys.send("/llm cache_ttl 12h")) == "LLM answers are now cached for 12h."
    assert bot.app.llm.active_vendor() == "openai"
    with connection_scope():
        row = AppSettings.get_by_id(1)
    assert row.llm_config["openai"]["model"] == "gpt-4o" and row.llm_config["cache_ttl"] == 43200
    assert row.llm_config["openai"]["api_key"] == "sk-db-secret-987654321"      # untouched, never re-shown
    changes = audit_rows("settings_changed")
    assert len(changes) == 3 and all("sk-db-secret" not in str(row.details) for row in changes)
    assert "Usage: /llm" in text(keys.send("/llm fly"))


def test_an_api_key_is_refused_with_the_environment_variable_to_set(bot: Any) -> None:
    keys = person(bot, KEYS)
    for option, variable in (("openai.api_key", "OPENAI_API_KEY"), ("proxiapi.token", "PROXIAPI_API_KEY"),
                             ("yandex.api_key", "YANDEX_API_KEY")):
        answer = text(keys.send(f"/llm set {option} sk-pasted-by-mistake-1234"))
        assert answer.startswith("API keys are never stored in the database") and variable in answer
        assert answer.count("_API_KEY") == 1                       # that vendor's variable, not a list
        assert "sk-pasted" not in answer
    with connection_scope():
        stored = AppSettings.get_by_id(1).llm_config or {}
    assert "sk-pasted" not in str(stored)                          # nothing reached the database
    assert not audit_rows("settings_changed")


def test_cache_ttl_set_by_an_admin_is_what_the_llm_cache_uses(bot: Any) -> None:
    from framework.llm import LlmSettings

    person(bot, KEYS).send("/llm cache_ttl 30m")
    settings = LlmSettings(vendor="openai", config=bot.app.runtime.settings()["llm_config"])
    assert bot.app.llm.cache_ttl_for(settings) == 1800
    assert bot.app.llm.cache_ttl_for(LlmSettings()) == bot.app.config["llm"]["cache_ttl"]


def test_a_new_consent_text_asks_everyone_again(bot_factory, monkeypatch, backend) -> None:
    bot = make_bot(bot_factory, monkeypatch, backend, config={"consent": {"required": True}})
    alice, keys = person(bot, ALICE), person(bot, KEYS)
    alice.press("I agree")
    assert "Hello" in text(alice.send("/hello"))
    assert "Before we start" in text(keys.send("/consent"))      # the default text until one is set
    bot.advance(minutes=5)
    assert text(keys.send("/consent Version 2: we also store your greetings. Agree?")).startswith(
        "The consent text is changed")
    [prompt] = alice.send("/hello")
    assert prompt.text == "Version 2: we also store your greetings. Agree?"
    alice.press("I agree")
    assert "Hello" in text(alice.send("/hello"))
    assert text(keys.send("/consent Version 2: we also store your greetings. Agree?")) == \
        "That is the current consent text already."
    assert "Version 2" in text(keys.send("/consent"))
    assert audit_rows("settings_changed")[-1].details["consent_text"][1].startswith("Version 2")
    assert texts(alice.send("/consent x")) == ["I don't know /consent. See /help."]


def test_settings_changed_elsewhere_reach_this_process(bot: Any) -> None:
    with connection_scope():
        AppSettings.update(active_llm_vendor="yandex").where(AppSettings.id == 1).execute()
    assert "Vendor: local" in text(person(bot, KEYS).send("/llm"))     # read at most 5 s ago
    bot.advance(seconds=6)
    assert "Vendor: yandex" in text(person(bot, KEYS).send("/llm"))
    bot.set_time(dt.datetime(2025, 5, 6, tzinfo=dt.UTC))
