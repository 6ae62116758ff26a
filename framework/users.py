"""The user upsert of every update, cached write-through so most updates cost no query.

A user row is refreshed when Telegram shows different names or language,
and ``last_active`` at most once a minute. The cached profile also carries
the /language override and the consent flag, so the pipeline needs no
extra lookups for them.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import peewee
from telebot import types

from . import statements
from .models import AdminUser, User, UserSettings

if TYPE_CHECKING:
    from .audit import AuditService
    from .cache import Cache
    from .i18n import Translator

ACTIVE_REFRESH = dt.timedelta(seconds=60)
_PROFILE_FIELDS = ("id", "telegram_id", "username", "first_name", "last_name", "language_code", "timezone",
                   "notifications_enabled", "is_admin", "status")
# What _load reads: the profile, when they were last active, and their settings row's flags.
_LOADED = ([(name, User._meta.fields[name]) for name in (*_PROFILE_FIELDS, "last_active")]
           + [(name, UserSettings._meta.fields[name]) for name in ("language", "consent_at", "archived_at")])
_LOAD = ("SELECT " + ", ".join(f'{"u" if field.model is User else "s"}."{field.column_name}"' for _, field in _LOADED)
         + f' FROM "{User._meta.table_name}" AS u LEFT OUTER JOIN "{UserSettings._meta.table_name}" AS s'
         + f' ON s."{UserSettings.user.column_name}" = u."id" WHERE u."telegram_id" = %s LIMIT 1')


class UserService:
    """Users and their settings: the cached upsert of every update, /language, profiles for admins.

    Built from what it uses: ``cache`` (the profiles), ``i18n`` (which languages exist), ``audit``
    (personal-data operations), ``clock``, and the config values ``admins``, ``default_language``,
    ``consent_required`` and ``profile_ttl`` (seconds a cached profile lives).
    """

    def __init__(self, cache: Cache, *, i18n: Translator, audit: AuditService, clock: Callable[[], dt.datetime],
                 admins: Iterable[int] = (), default_language: str = "en", consent_required: bool = False,
                 profile_ttl: int = 300):
        self.cache = cache
        self.i18n = i18n
        self.audit = audit
        self.clock = clock
        self.admins = frozenset(admins)
        self.default_language = default_language
        self.consent_required = consent_required
        self.profile_ttl = profile_ttl
        # Called with the User row when an archived user is back; the application sets it to call
        # every plugin's plugbot_unarchive_user_data (one broken plugin must not lock the user out).
        self.on_unarchive: Callable[[User], Any] = lambda user: None
        # Set by the application to AccessControl.lift_expired_bans (bans live there): a profile an
        # admin views shows ``active`` once the user's last ban ran out.
        self.lift_expired_bans: Callable[[User], list[int]] | None = None

    def upsert(self, tg_user: types.User, *, touch: bool = True) -> tuple[User, str]:
        """The core ``User`` row for this Telegram user, and the language to answer in.

        ``touch=False`` (a pre-checkout query, answered within Telegram's 10 s) reads a known
        user's row without writing it: the write would wait for the row lock of any update of
        theirs still running (a long handler), and the names and last-active time can wait for
        their next message.

        A user met for the first time is inserted by the caller's transaction, so their profile is
        not cached then: a parallel update of the same user (another chat, a payment query on its
        own worker) must never take the id of a row that is not there for it yet. Their next
        update reads the committed row and caches it.
        """
        now = self.clock()
        key = f"user:{tg_user.id}"
        profile = self.cache.get(key)
        if profile is None and not touch:
            profile = self._load(tg_user.id)
            if profile is not None and profile["status"] in ("blocked", "deleted"):
                profile = None  # coming back: the write below makes them active again
        if profile is None or (touch and not self._fresh(profile, tg_user, now)):
            profile = self._write(tg_user, now)
            if not profile.pop("_inserted"):
                self.cache.set(key, profile, ttl=self.profile_ttl)
        return self._user(profile), self._language(profile)

    def invalidate(self, telegram_id: int) -> None:
        """Forget the cached profile (after /language, consent, bans, deletion)."""
        self.cache.delete(f"user:{telegram_id}")

    def language_of(self, user: User) -> str:
        """A user's language outside an update (jobs): the /language override wins."""
        override = (UserSettings.select(UserSettings.language)
                    .where(UserSettings.user == user.id).scalar())
        return self._language({"_language": override, "language_code": user.language_code})

    # -- personal data, seen or changed by someone: each operation goes to pd_audit_log -------
    def profile(self, telegram_id: int, *, actor: User) -> dict[str, Any] | None:
        """What the core stores about a user, for an admin to see; the viewing is itself audited.

        None when the bot has never met ``telegram_id``. The caller checks permissions
        (``ctx.can("manage_users")``); this records who looked at whom, as 152-FZ asks.
        """
        row = User.get_or_none(User.telegram_id == telegram_id)
        if row is None:
            return None
        if row.status == "suspended" and self.lift_expired_bans is not None and self.lift_expired_bans(row):
            row = User.get_by_id(row.id)  # the ban ran out since: show the status as it is now
            self.invalidate(telegram_id)
        settings = UserSettings.get_or_none(UserSettings.user == row.id)
        profile: dict[str, Any] = {name: getattr(row, name) for name in _PROFILE_FIELDS if name != "id"}
        profile.update(created_at=row.created_at, last_active=row.last_active,
                       language=settings.language if settings else None,
                       consent_at=settings.consent_at if settings else None)
        self.audit.pd(actor, row, "view_profile", {"fields": sorted(profile)})
        return profile

    def change_settings(self, target: User, *, actor: User, **changes: str) -> dict[str, list[Any]]:
        """Change ``language`` and/or ``timezone`` of ``target``: by the user (/language) or an admin.

        Returns ``{field: [old, new]}`` of what actually changed, which is also what
        ``pd_audit_log`` records. Raises ``ValueError`` for an unknown field or value,
        before anything is written.
        """
        for field, value in changes.items():
            self._check_setting(field, value)
        now = self.clock()
        settings, _ = UserSettings.get_or_create(user=target.id, defaults={"created_at": now, "updated_at": now})
        row = User.get_by_id(target.id)
        changed: dict[str, list[Any]] = {}
        if "language" in changes and settings.language != changes["language"]:
            changed["language"] = [settings.language, changes["language"]]
            settings.language, settings.updated_at = changes["language"], now
            settings.save()
        if "timezone" in changes and row.timezone != changes["timezone"]:
            changed["timezone"] = [row.timezone, changes["timezone"]]
            User.update(timezone=changes["timezone"], updated_at=now).where(User.id == target.id).execute()
        if changed:
            self.invalidate(row.telegram_id)
            self.audit.pd(actor, target, "update_settings", changed)
        return changed

    # -- users.status the core keeps (seed 000): active, suspended, blocked, deleted ------------------
    def mark_blocked(self, telegram_id: int) -> bool:
        """Telegram refused a message to ``telegram_id`` with 403 (the user blocked the bot): their
        status becomes ``blocked`` (only from ``active``: a ban or an erasure says more), so
        broadcasts and jobs skip them until they write again. True when it changed."""
        changed = (User.update(status="blocked", updated_at=self.clock())
                   .where((User.telegram_id == telegram_id) & (User.status == "active")).execute())
        if changed:
            self.invalidate(telegram_id)
        return bool(changed)

    def tombstone(self, user: User) -> None:
        """What stays of a user after /deleteme: the row with its Telegram id, ``status='deleted'``
        and its timestamps; every personal field is cleared or back to its default. Kept so the
        erasure is on record and broadcasts and jobs skip the id; a return starts afresh (consent
        asked again, nothing of before). Plugins' rows are the caller's (``erase_user``)."""
        now = self.clock()
        (User.update(username=None, first_name=None, last_name=None, language_code=self.default_language,
                     timezone="UTC", notifications_enabled=True, is_admin=False, status="deleted",
                     updated_at=now, last_active=now)
         .where(User.id == user.id).execute())
        self.invalidate(user.telegram_id)

    def set_notifications(self, target: User, enabled: bool) -> bool:
        """Mute (False) or unmute what the bot sends ``target`` on its own; True when it changed.

        Jobs read it as ``user.notifications_enabled`` and ``job.notify`` skips a muted user;
        answers to the user's own messages are never muted.
        """
        changed = (User.update(notifications_enabled=bool(enabled), updated_at=self.clock())
                   .where((User.id == target.id) & (User.notifications_enabled != bool(enabled))).execute())
        target.notifications_enabled = bool(enabled)
        if changed:
            self.invalidate(target.telegram_id)
        return bool(changed)

    def _check_setting(self, field: str, value: str) -> None:
        if field == "language":
            if value not in self.i18n.languages("core"):
                raise ValueError(f"unknown language {value!r}")
        elif field == "timezone":
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a long name
                raise ValueError(f"unknown timezone {value!r}") from None
        else:
            raise ValueError(f"{field!r} is not a user setting (language, timezone)")

    def consented(self, profile_user: User) -> bool:
        return bool(getattr(profile_user, "_consent", False))

    # -- internals ---------------------------------------------------------------
    def _fresh(self, profile: dict[str, Any], tg: types.User, now: dt.datetime) -> bool:
        if not profile.get("_consent") and self.consent_required:
            same = True  # nothing but the id is stored before consent
        else:
            same = (profile["username"] == tg.username and profile["first_name"] == tg.first_name
                    and profile["last_name"] == tg.last_name
                    and profile["language_code"] == _language_code(tg))
        last = dt.datetime.fromisoformat(profile["last_active"])
        return same and now - last < ACTIVE_REFRESH

    def _write(self, tg: types.User, now: dt.datetime) -> dict[str, Any]:
        consent_needed = self.consent_required
        existing = self._load(tg.id)
        consented = existing is not None and existing["_consent"]
        personal = {} if consent_needed and not consented else {
            User.username: tg.username, User.first_name: tg.first_name, User.last_name: tg.last_name,
            User.language_code: _language_code(tg),
        }
        is_admin = tg.id in self.admins
        fields = {**personal, User.last_active: now, User.updated_at: now, User.is_admin: is_admin}
        if existing is not None and existing["status"] in ("blocked", "deleted"):
            # They wrote: whoever blocked the bot has unblocked it; an erased user starts afresh
            # (their tombstone holds nothing of before, and consent is asked again).
            fields[User.status] = "active"
            if existing["status"] == "deleted":
                fields[User.created_at] = now
        if existing is None:
            (User.insert({User.telegram_id: tg.id, User.created_at: now, **fields})
             .on_conflict(conflict_target=[User.telegram_id], update=fields).execute())
        else:
            # The quick flag (seed 003) follows the roles: a superadmin, or an admin_users row.
            role = peewee.fn.EXISTS(AdminUser.select(AdminUser.id).where(AdminUser.user == User.id))
            fields[User.is_admin] = True if is_admin else role
            User.update(fields).where(User.telegram_id == tg.id).execute()
        profile = self._load(tg.id)
        assert profile is not None
        if profile["_archived"]:  # back after the retention archived their data
            self._unarchive(profile)
        profile["_inserted"] = existing is None
        return profile

    def _unarchive(self, profile: dict[str, Any]) -> None:
        """Clear ``archived_at`` and let every plugin bring back what it archived (this update's transaction)."""
        UserSettings.update(archived_at=None).where(UserSettings.user == profile["id"]).execute()
        profile["_archived"] = False
        user = User.get_by_id(profile["id"])
        self.on_unarchive(user)

    def _load(self, telegram_id: int) -> dict[str, Any] | None:
        # Read twice by every write of a user (framework.statements: the text is built once).
        row = statements.execute(_LOAD, (telegram_id,)).fetchone()
        if row is None:
            return None
        values = {name: field.python_value(value) for (name, field), value in zip(_LOADED, row, strict=True)}
        profile = {name: values[name] for name in _PROFILE_FIELDS}
        profile["last_active"] = values["last_active"].isoformat()
        profile["_language"] = values["language"]
        profile["_consent"] = values["consent_at"] is not None
        profile["_consent_at"] = values["consent_at"].isoformat() if values["consent_at"] is not None else None
        profile["_archived"] = values["archived_at"] is not None
        return profile

    def _user(self, profile: dict[str, Any]) -> User:
        user = User(**{name: profile[name] for name in _PROFILE_FIELDS})
        user.last_active = dt.datetime.fromisoformat(profile["last_active"])
        user._consent = profile["_consent"]
        user._consent_at = profile.get("_consent_at")  # a new consent text asks whoever agreed before it
        user._dirty.clear()
        return user

    def _language(self, profile: dict[str, Any]) -> str:
        chosen = profile.get("_language") or profile.get("language_code") or self.default_language
        lang = chosen.split("-")[0].lower()
        return lang if lang in self.i18n.languages("core") else self.default_language


def _language_code(tg: types.User) -> str:
    return (tg.language_code or "en")[:10]
