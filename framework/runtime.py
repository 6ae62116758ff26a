"""What admins change while the bot runs: the ``app_settings`` row and plugin switches.

Both live in the database, so every process serving the bot, and the next start, follow the
same choice. A process re-reads them at most every ``refresh_seconds`` (on the application's
clock) when an update or a job arrives, and at once after a change it made itself: a change
made in one process reaches the others within that interval, without a restart and without
a query per update.

A plugin switch (``plugin_state.enabled``) is the admin's choice over the config default;
``None`` gives the decision back to the config. Every change writes an audit row naming the
admin.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import db as dbmod
from .models import AppSettings, PluginState, User

if TYPE_CHECKING:
    from .audit import AuditService

log = logging.getLogger("plugbot.runtime")

REFRESH_SECONDS = 5
SETTING_FIELDS = ("active_llm_vendor", "llm_config", "consent_text", "access_mode")
ACCESS_MODES = ("open", "whitelist")
_SECRET_NAME = re.compile(r"(key|token|secret|password|passwd|credential)", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Does a setting's name say it holds a secret (``api_key``, ``token``...)?"""
    return bool(_SECRET_NAME.search(name))


def mask_secret(value: Any) -> str:
    """A secret as an admin may see it: whether it is set, and its last four characters at most."""
    text = "" if value is None else str(value)
    if not text:
        return "—"
    return "••••" + (text[-4:] if len(text) >= 12 else "")


def mask_secrets(value: Any) -> Any:
    """``value`` (JSON-like) with every entry whose key names a secret masked, at any depth."""
    if isinstance(value, dict):
        return {key: mask_secret(item) if is_secret_name(str(key)) and not isinstance(item, dict)
                else mask_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


class RuntimeSettings:
    """The live ``app_settings`` and plugin switches of this process, kept in step with the database.

    ``listeners`` are called with the new switches (``{plugin: enabled}``) whenever they change,
    in whichever process the change was made; the application uses it to start and stop a
    plugin's handlers and jobs.
    """

    def __init__(self, *, clock: Callable[[], dt.datetime], audit: AuditService,
                 refresh_seconds: float = REFRESH_SECONDS, plugins: Any = None):
        self.clock = clock
        self.audit = audit
        self._plugins = plugins  # the application's PluginManager: statuses, what can be switched, resume
        self.refresh_seconds = refresh_seconds
        self.listeners: list[Callable[[dict[str, bool]], None]] = []
        self._lock = threading.Lock()
        self._checked_at: dt.datetime | None = None
        self._settings: dict[str, Any] = {}
        self._switches: dict[str, bool] = {}

    # -- reading ------------------------------------------------------------------
    def refresh(self, *, force: bool = False) -> None:
        """Re-read the settings and switches if ``refresh_seconds`` passed since the last read."""
        now = self.clock()
        with self._lock:
            last = self._checked_at
            if not force and last is not None and dt.timedelta(0) <= now - last < dt.timedelta(
                    seconds=self.refresh_seconds):
                return
            self._checked_at = now
        try:
            with dbmod.connection_scope():
                row = AppSettings.get_or_none(AppSettings.id == 1)
                states = list(PluginState.select(PluginState.name, PluginState.enabled, PluginState.paused_until))
        except Exception:  # noqa: BLE001 - a failed refresh keeps the last known state, tried again later
            log.exception("could not read the runtime settings; keeping the last known ones")
            return
        switches = {state.name: bool(state.enabled) for state in states if state.enabled is not None}
        with self._lock:
            self._settings = _snapshot(row)
            changed = switches != self._switches
            self._switches = switches
        if changed:
            for listener in list(self.listeners):
                listener(dict(switches))
        if self._plugins is not None:  # circuit-breaker pauses saved, or cleared, by other processes
            self._plugins.adopt_pauses({state.name: state.paused_until for state in states}, now)

    def settings(self) -> dict[str, Any]:
        """``active_llm_vendor``, ``llm_config``, ``consent_text``, ``consent_updated_at``, ``access_mode``
        and ``updated_at`` as this process last read them: at the start of the current update or job,
        at most ``refresh_seconds`` old, or just now when this process changed them."""
        with self._lock:
            return {key: (dict(value) if isinstance(value, dict) else value) for key, value in self._settings.items()}

    def switches(self) -> dict[str, bool]:
        """The admins' choices, ``{plugin: enabled}``; a plugin not named follows the config."""
        with self._lock:
            return dict(self._switches)

    def plugin_statuses(self) -> dict[str, str]:
        """Every plugin this process knows, in load order first: ``enabled``, ``paused`` (circuit
        breaker), ``off`` (switched off by an admin), ``disabled`` (config) or ``failed``."""
        if self._plugins is None:
            return {}
        for name in list(self._plugins.plugins):
            self._plugins.is_paused(name)  # an expired pause lifts before it is shown
        return {name: loaded.status for name, loaded in self._plugins.plugins.items()}

    def switchable(self, name: str) -> bool:
        """Can ``name`` be switched at runtime: loaded by the config, and not a built-in?"""
        return self._plugins is not None and self._plugins.switchable(name)

    def resume(self, name: str, *, actor: User | None) -> bool:
        """End a circuit-breaker pause of ``name`` here at once and in the other processes within
        ``refresh_seconds``; True if it was paused. Audited as ``plugin_resumed``. Call inside the
        update's transaction."""
        if self._plugins is None:
            return False
        now = self.clock()
        paused_here = self._plugins.is_paused(name)
        if paused_here:
            self._plugins.resume(name)
        # Cleared in the database too, where the other processes read the pause from; a pause
        # another process saved and this one has not taken up yet ends as well.
        cleared = (PluginState.update(status="enabled", paused_until=None, updated_at=now)
                   .where(PluginState.name == name, PluginState.paused_until > now)
                   .execute())
        if not paused_here and not (cleared and self._plugins.switchable(name)):
            return False
        self.audit.log("plugin_resumed", user=actor, plugin="core", entity_type="plugin", details={"plugin": name})
        return True

    # -- changing ------------------------------------------------------------------
    def update_settings(self, *, actor: User | None, **changes: Any) -> dict[str, list[Any]]:
        """Change fields of ``app_settings`` (``active_llm_vendor``, ``llm_config``, ``consent_text``,
        ``access_mode``: ``open``/``whitelist``, None for the config's ``access.mode``);
        returns ``{field: [old, new]}`` of what changed, audited as ``settings_changed`` with the
        secrets in ``llm_config`` masked. A new ``consent_text`` stamps ``consent_updated_at``, so
        users who agreed to an older text are asked again. Call inside the update's transaction."""
        unknown = sorted(set(changes) - set(SETTING_FIELDS))
        if unknown:
            raise ValueError(f"not an app setting: {', '.join(unknown)}; known: {', '.join(SETTING_FIELDS)}")
        if changes.get("access_mode") not in (None, *ACCESS_MODES):
            raise ValueError(f"access_mode must be one of {', '.join(ACCESS_MODES)} (or None: the config's)")
        now = self.clock()
        row = AppSettings.get_or_none(AppSettings.id == 1)
        if row is None:
            row = AppSettings.create(id=1, updated_at=now)
        changed: dict[str, list[Any]] = {}
        for field, value in changes.items():
            old = getattr(row, field)
            if old != value:
                changed[field] = [old, value]
                setattr(row, field, value)
        if not changed:
            return changed
        row.updated_at = now
        if "consent_text" in changed:
            row.consent_updated_at = now
        row.save()
        shown = {field: [mask_secrets(old), mask_secrets(new)] for field, (old, new) in changed.items()}
        self.audit.log("settings_changed", user=actor, plugin="core", entity_type="app_settings", entity_id=1,
                       details=shown)
        with self._lock:
            self._settings = _snapshot(row)
        return changed

    def switch_plugin(self, name: str, enabled: bool | None, *, actor: User | None) -> None:
        """Turn plugin ``name`` on or off in every process (``None``: back to the config default).
        Audited as ``plugin_enabled`` / ``plugin_disabled`` / ``plugin_reset``. Takes effect here
        at once and in the other processes within ``refresh_seconds``."""
        now = self.clock()
        by = actor.telegram_id if actor is not None else None
        (PluginState.insert(name=name, status="enabled" if enabled is not False else "disabled", enabled=enabled,
                            changed_by=by, updated_at=now)
         .on_conflict(conflict_target=[PluginState.name],
                      update={PluginState.enabled: enabled, PluginState.changed_by: by, PluginState.updated_at: now})
         .execute())
        action = "plugin_reset" if enabled is None else "plugin_enabled" if enabled else "plugin_disabled"
        self.audit.log(action, user=actor, plugin="core", entity_type="plugin", details={"plugin": name})
        with self._lock:
            switches = dict(self._switches)
            if enabled is None:
                switches.pop(name, None)
            else:
                switches[name] = enabled
            changed = switches != self._switches
            self._switches = switches
        if changed:
            for listener in list(self.listeners):
                listener(dict(switches))


def _snapshot(row: AppSettings | None) -> dict[str, Any]:
    if row is None:
        return {"active_llm_vendor": "local", "llm_config": {}, "consent_text": None, "consent_updated_at": None,
                "access_mode": None, "updated_at": None}
    return {"active_llm_vendor": row.active_llm_vendor or "local", "llm_config": dict(row.llm_config or {}),
            "consent_text": row.consent_text, "consent_updated_at": row.consent_updated_at,
            "access_mode": row.access_mode, "updated_at": row.updated_at}
