"""The user upsert of every update, cached write-through so most updates cost no query.

A user row is refreshed when Telegram shows different names or language,
and ``last_active`` at most once a minute. The cached profile also carries
the /language override and the consent flag, so the pipeline needs no
extra lookups for them.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import peewee
from telebot import types

from .models import User, UserSettings

if TYPE_CHECKING:
    from .app import Application

ACTIVE_REFRESH = dt.timedelta(seconds=60)
_PROFILE_FIELDS = ("id", "telegram_id", "username", "first_name", "last_name", "language_code", "timezone",
                   "is_admin", "status")


class UserService:
    def __init__(self, app: Application):
        self.app = app
        self.cache = app.cache("users")

    def upsert(self, tg_user: types.User) -> tuple[User, str]:
        """The core ``User`` row for this Telegram user, and the language to answer in."""
        now = self.app.now()
        key = f"user:{tg_user.id}"
        profile = self.cache.get(key)
        if profile is None or not self._fresh(profile, tg_user, now):
            profile = self._write(tg_user, now)
            self.cache.set(key, profile, ttl=self.app.config["cache"]["user_ttl"])
        return self._user(profile), self._language(profile)

    def invalidate(self, telegram_id: int) -> None:
        """Forget the cached profile (after /language, consent, bans, deletion)."""
        self.cache.delete(f"user:{telegram_id}")

    def language_of(self, user: User) -> str:
        """A user's language outside an update (jobs): the /language override wins."""
        override = (UserSettings.select(UserSettings.language)
                    .where(UserSettings.user == user.id).scalar())
        return self._language({"_language": override, "language_code": user.language_code})

    def consented(self, profile_user: User) -> bool:
        return bool(getattr(profile_user, "_consent", False))

    # -- internals ---------------------------------------------------------------
    def _fresh(self, profile: dict[str, Any], tg: types.User, now: dt.datetime) -> bool:
        if not profile.get("_consent") and self.app.config["consent"]["required"]:
            same = True  # nothing but the id is stored before consent
        else:
            same = (profile["username"] == tg.username and profile["first_name"] == tg.first_name
                    and profile["last_name"] == tg.last_name
                    and profile["language_code"] == _language_code(tg))
        last = dt.datetime.fromisoformat(profile["last_active"])
        return same and now - last < ACTIVE_REFRESH

    def _write(self, tg: types.User, now: dt.datetime) -> dict[str, Any]:
        consent_needed = self.app.config["consent"]["required"]
        existing = self._load(tg.id)
        consented = existing is not None and existing["_consent"]
        personal = {} if consent_needed and not consented else {
            User.username: tg.username, User.first_name: tg.first_name, User.last_name: tg.last_name,
            User.language_code: _language_code(tg),
        }
        is_admin = tg.id in self.app.config["admins"]
        fields = {**personal, User.last_active: now, User.updated_at: now, User.is_admin: is_admin}
        if existing is None:
            (User.insert({User.telegram_id: tg.id, User.created_at: now, **fields})
             .on_conflict(conflict_target=[User.telegram_id], update=fields).execute())
        else:
            User.update(fields).where(User.telegram_id == tg.id).execute()
        profile = self._load(tg.id)
        assert profile is not None
        return profile

    def _load(self, telegram_id: int) -> dict[str, Any] | None:
        row = (User.select(User, UserSettings.language, UserSettings.consent_at)
               .join(UserSettings, peewee.JOIN.LEFT_OUTER, on=(UserSettings.user == User.id))
               .where(User.telegram_id == telegram_id).objects().first())
        if row is None:
            return None
        profile = {name: getattr(row, name) for name in _PROFILE_FIELDS}
        profile["last_active"] = row.last_active.isoformat()
        profile["_language"] = row.language
        profile["_consent"] = row.consent_at is not None
        return profile

    def _user(self, profile: dict[str, Any]) -> User:
        user = User(**{name: profile[name] for name in _PROFILE_FIELDS})
        user.last_active = dt.datetime.fromisoformat(profile["last_active"])
        user._consent = profile["_consent"]
        user._dirty.clear()
        return user

    def _language(self, profile: dict[str, Any]) -> str:
        chosen = profile.get("_language") or profile.get("language_code") or self.app.config["default_language"]
        lang = chosen.split("-")[0].lower()
        return lang if lang in self.app.i18n.languages("core") else self.app.config["default_language"]


def _language_code(tg: types.User) -> str:
    return (tg.language_code or "en")[:10]
