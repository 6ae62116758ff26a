"""Settings (seed 003 ``app_settings``, ``manage_keys``): ``/llm`` and ``/consent``. Changes go
through ``ctx.runtime``, so every running process follows them without a restart; each one is
audited by the core with secrets masked."""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from framework import Button, Context, arg, mask_secrets

from . import menu
from .paging import span

VENDORS = ("local", "openai", "proxiapi", "yandex")
ACTIONS = ("vendor", "set", "cache_ttl")
_OPTION = re.compile(r"^(openai|proxiapi|yandex)\.([a-z_]{1,32})$")
_SECRET = re.compile(r"(key|token|secret|password)", re.IGNORECASE)


def register(register: Any) -> None:
    register.command("llm", llm, help="help.llm", permission="manage_keys", usage="usage.llm",
                     args=[arg.choice("action", ACTIONS, optional=True), arg.text("value", optional=True,
                                                                                  max_length=500)])
    register.command("consent", consent, help="help.consent", permission="manage_keys",
                     args=[arg.text("text", optional=True, max_length=3500)])
    menu.VIEWS["llm"] = llm_view


def llm_view(ctx: Context) -> tuple[str, list[list[Button]]]:
    current = ctx.runtime.settings()
    config = mask_secrets(current["llm_config"])
    keys = ctx.llm.key_status()
    lines = [ctx.t("llm.vendor", vendor=current["active_llm_vendor"]),
             ctx.t("llm.config", config=json.dumps(config, ensure_ascii=False, sort_keys=True) if config else "{}"),
             ctx.t("llm.keys", keys=", ".join(f"{vendor} {shown}" for vendor, shown in keys.items()))]
    return "\n".join(lines), []


def llm(ctx: Context, action: str | None, value: str | None) -> None:
    if action is None:
        # A first word that is no action falls through to the value: show how to use it instead.
        ctx.reply(ctx.t("usage.llm") if value else llm_view(ctx)[0])
        return
    value = (value or "").strip()
    current = ctx.runtime.settings()
    if action == "vendor":
        vendor = value.lower()
        if vendor not in VENDORS:
            ctx.reply(ctx.t("llm.bad_vendor", vendors=", ".join(VENDORS)))
            return
        changed = ctx.runtime.update_settings(actor=ctx.user, active_llm_vendor=vendor)
        ctx.reply(ctx.t("llm.vendor_set" if changed else "llm.unchanged", vendor=vendor))
        return
    config = json.loads(json.dumps(current["llm_config"] or {}))  # a deep copy to change
    if action == "cache_ttl":
        seconds = _seconds(ctx, value)
        if seconds is None:
            return
        config["cache_ttl"] = seconds
        ctx.runtime.update_settings(actor=ctx.user, llm_config=config)
        ctx.reply(ctx.t("llm.cache_ttl_set", ttl=span(dt.timedelta(seconds=seconds))))
        return
    name, _, option_value = value.partition(" ")
    match = _OPTION.match(name.lower())
    option_value = option_value.strip()
    if match is None or not option_value:
        ctx.reply(ctx.t("llm.bad_option"))
        return
    vendor, option = match.groups()
    if _SECRET.search(option):
        # Keys come from the environment only, never the database: name the variable that takes it.
        ctx.reply(ctx.t("llm.secret_refused", variable=ctx.llm.key_variable(vendor)))
        return
    config.setdefault(vendor, {})
    if not isinstance(config[vendor], dict):
        config[vendor] = {}
    config[vendor][option] = option_value
    ctx.runtime.update_settings(actor=ctx.user, llm_config=config)
    ctx.reply(ctx.t("llm.option_set", option=f"{vendor}.{option}", value=option_value))


def _seconds(ctx: Context, text: str) -> int | None:
    """A TTL as ``/llm cache_ttl`` takes it (``30m``, ``12h``, ``7d``), through the core's duration reader."""
    try:
        delta = arg.duration("ttl").value(text, ctx)
    except ValueError as exc:
        ctx.reply(getattr(exc, "message", None) or ctx.t("llm.bad_ttl"))
        return None
    return int(delta.total_seconds())


def consent(ctx: Context, text: str | None) -> None:
    current = ctx.runtime.settings()
    if not text:
        shown = current["consent_text"] or ctx.t("core.consent.prompt")
        ctx.reply(ctx.t("consent.current", text=shown, since=str(current["consent_updated_at"] or "—")[:16]))
        return
    changed = ctx.runtime.update_settings(actor=ctx.user, consent_text=text.strip())
    ctx.reply(ctx.t("consent.changed" if changed else "consent.same"))
