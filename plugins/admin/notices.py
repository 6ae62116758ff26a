"""Circuit-breaker notices: every admin hears when a plugin is paused after repeated errors and
when it runs again; superadmins get a Resume button (the /plugin resume of one press)."""
from __future__ import annotations

from framework import Button, Plugin, User, connection_scope

from .system import ResumePlugin


def plugin_status(plugin: Plugin, name: str, status: str, error: str | None) -> None:
    with connection_scope():
        recipients = [(telegram_id, User.get_or_none(User.telegram_id == telegram_id))
                      for telegram_id in plugin.access.admin_ids()]
        for telegram_id, user in recipients:
            lang = plugin.users.language_of(user) if user is not None else None
            if status == "paused":
                text = plugin.t("notice.paused", lang=lang, plugin=name, error=error or "—")
                buttons = ([[Button(plugin.t("plugins.resume", lang=lang, plugin=name), ResumePlugin(plugin=name))]]
                           if telegram_id in plugin.access.admins else None)  # the config's superadmins
            else:
                text, buttons = plugin.t("notice.resumed", lang=lang, plugin=name), None
            plugin.send(telegram_id, text, buttons)
