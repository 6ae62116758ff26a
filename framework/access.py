"""Access control: bans, black/white lists, the consent gate, and admin permissions.

One question, one function: :meth:`AccessControl.can` answers "may this
user do X" for every admin command. Superadmins come from ``admins`` in the
config; ``admin_users`` rows grant finer roles (manage users, view stats, manage keys).

Restrictions carry their own ``expires_at``: an expired ban stops applying at
once, without a job having to flip ``is_active``. Two kinds: a
``ban`` drops every update of the user; a ``restrict`` keeps them served but
at ``access.restricted_messages_per_minute`` and without the commands a
plugin registered with ``allow_restricted=False`` (costly ones: readings, LLM
calls). ``ctx.restricted`` tells a handler, for finer decisions. Lookups are cached for a
minute and invalidated by every change made through this service.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import peewee

from . import db as dbmod
from .callbacks import CallbackData
from .context import Button
from .models import AccessList, AdminUser, AppSettings, User, UserRestriction

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .cache import Cache
    from .context import Context

PERMISSIONS = {
    "admin": None,                       # any admin
    "manage_keys": "can_manage_keys",
    "view_stats": "can_view_stats",
    "manage_users": "can_manage_users",
    "superadmin": None,
}
RESTRICTION_KINDS = ("ban", "restrict")
BAN_NOTICE_INTERVAL = 86400
CACHE_TTL = 60
_MISS = object()  # prefetched, not in the cache: load it without asking the cache again


class ConsentAnswer(CallbackData, prefix="consent"):
    """The consent prompt's buttons (handled by the built-in ``datarights``)."""

    accept: bool


@dataclass
class Verdict:
    allowed: bool
    notice: str | None = None
    buttons: list[list[Any]] | None = None


class AccessControl:
    """Who may use the bot and who may do what. Built from what it uses: ``cache`` (lookups),
    ``clock`` (expiries), and the config values ``admins``, ``mode`` and ``consent_required``."""

    def __init__(self, cache: Cache, *, clock: Callable[[], dt.datetime], admins: Iterable[int] = (),
                 mode: str = "open", consent_required: bool = False):
        self.cache = cache
        self.clock = clock
        self.admins = frozenset(admins)
        self.mode = mode
        self.consent_required = consent_required

    # -- permissions ----------------------------------------------------------------
    def is_superadmin(self, user: User) -> bool:
        return user.telegram_id in self.admins

    def is_admin(self, user: User) -> bool:
        return self.is_superadmin(user) or self._role(user) is not None

    def can(self, user: User, permission: str) -> bool:
        """May ``user`` do ``permission`` (one of :data:`PERMISSIONS`)? Checked on every call."""
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}; known: {', '.join(PERMISSIONS)}")
        if self.is_superadmin(user):
            return True
        role = self._role(user)
        if role is None or permission == "superadmin":
            return False
        column = PERMISSIONS[permission]
        return True if column is None else bool(role.get(column))

    def _role(self, user: User) -> dict[str, Any] | None:
        def load() -> dict[str, Any]:
            row = AdminUser.get_or_none(AdminUser.user == user.id)
            if row is None:
                return {}
            return {"can_manage_keys": row.can_manage_keys, "can_view_stats": row.can_view_stats,
                    "can_manage_users": row.can_manage_users}

        role = self._cached(user, f"role:{user.id}", load)
        return role or None

    # -- one update asks the same questions several times: remember the answers on its user ------
    def prefetch(self, user: User) -> None:
        """Fetch the lists, role and ban of ``user`` in one cache round trip (the gate needs all three).

        The answers are kept on this ``User`` object, which lives for one update, so the
        gate, ``is_admin`` and the permission checks after it do not ask the cache again.
        """
        memo = _memo(user)
        keys = [key for key in ("lists", f"role:{user.id}", f"restrictions:{user.id}") if key not in memo]
        found = self.cache.get_many(keys) if keys else {}
        for key in keys:
            memo[key] = found.get(key, _MISS)

    def _cached(self, user: User | None, key: str, load: Callable[[], Any]) -> Any:
        if user is None:
            return self.cache.get_or_set(key, load, ttl=CACHE_TTL)
        memo = _memo(user)
        value = memo.get(key, None)
        if value is _MISS:
            value = load()
            self.cache.set(key, value, ttl=CACHE_TTL)
        elif key not in memo:
            value = self.cache.get_or_set(key, load, ttl=CACHE_TTL)
        memo[key] = value
        return value

    def grant(self, user: User, **roles: bool) -> AdminUser:
        row, _ = AdminUser.get_or_create(user=user.id)
        for name, value in roles.items():
            setattr(row, name, bool(value))
        row.save()
        self.cache.delete(f"role:{user.id}")
        _memo(user).clear()
        return row

    def revoke(self, user: User) -> bool:
        removed = AdminUser.delete().where(AdminUser.user == user.id).execute()
        self.cache.delete(f"role:{user.id}")
        _memo(user).clear()
        return bool(removed)

    def forget(self, user: User) -> None:
        """Drop the cached role and restrictions of an erased user: SQLite may give its id to the next new user."""
        self.cache.delete(f"role:{user.id}")
        self.cache.delete(f"restrictions:{user.id}")
        _memo(user).clear()

    # -- the gate of every update -------------------------------------------------------
    def check(self, ctx: Context) -> Verdict:
        """Should this update be served? Admins always are; a ban notice at most once a day."""
        self.prefetch(ctx.user)
        lists = self._lists(ctx.user)
        chat_id, tid = ctx.chat_id, ctx.telegram_id
        if self.is_admin(ctx.user):
            return Verdict(True)
        if chat_id in lists["blacklist"]["chat"] or tid in lists["blacklist"]["user"]:
            return Verdict(False)
        if self.mode == "whitelist":
            if chat_id not in lists["whitelist"]["chat"] and tid not in lists["whitelist"]["user"]:
                return Verdict(False, ctx.t("core.not_allowed") if self._notice_due(tid, "private") else None)
        ban = self.active_ban(ctx.user)
        if ban is not None:
            notice = None
            if self._notice_due(tid, "ban"):
                until = ban["expires_at"]
                date = until[:16].replace("T", " ") + " UTC" if until else ""
                notice = ctx.t("core.banned", until=ctx.t("core.banned_until", date=date) if until else "")
            return Verdict(False, notice)
        if self.consent_required and not getattr(ctx.user, "_consent", False):
            if ConsentAnswer.matches(ctx.data):
                return Verdict(True)  # the press is still owner-checked and parsed before its handler
            return Verdict(False, self.consent_text(ctx),
                           [[Button(ctx.t("core.consent.accept_button"), ConsentAnswer(accept=True)),
                             Button(ctx.t("core.consent.decline_button"), ConsentAnswer(accept=False))]])
        return Verdict(True)

    def consent_text(self, ctx: Context) -> str:
        """The consent text an admin set in ``app_settings`` (it changes without a deploy), else the default."""
        text = self.cache.get_or_set("consent_text", lambda: _settings_row().consent_text or "",
                                     ttl=CACHE_TTL)
        return text or ctx.t("core.consent.prompt")

    def _notice_due(self, telegram_id: int, kind: str) -> bool:
        key = f"notice:{kind}:{telegram_id}"
        if self.cache.get(key):
            return False
        self.cache.set(key, True, ttl=BAN_NOTICE_INTERVAL)
        return True

    # -- restrictions -----------------------------------------------------------------
    def active_restriction(self, user: User, kind: str) -> dict[str, Any] | None:
        """The ``kind`` (``ban`` or ``restrict``) that applies to ``user`` now: reason and expiry, or None."""
        if kind not in RESTRICTION_KINDS:
            raise ValueError(f"unknown restriction {kind!r}; known: {', '.join(RESTRICTION_KINDS)}")
        found = self._restrictions(user).get(kind)
        if not found:
            return None
        expires = found["expires_at"]
        if expires is not None and dt.datetime.fromisoformat(expires) <= self.clock():
            return None
        return found

    def active_ban(self, user: User) -> dict[str, Any] | None:
        return self.active_restriction(user, "ban")

    def is_restricted(self, user: User) -> bool:
        """Is ``user`` under an active ``restrict``? Admins never are."""
        return not self.is_admin(user) and self.active_restriction(user, "restrict") is not None

    def _restrictions(self, user: User) -> dict[str, dict[str, Any]]:
        def load() -> dict[str, dict[str, Any]]:
            rows = (UserRestriction.select()
                    .where((UserRestriction.user == user.id) & (UserRestriction.is_active == True))  # noqa: E712
                    .order_by(UserRestriction.expires_at.desc(nulls="FIRST")))
            found: dict[str, dict[str, Any]] = {}
            for row in rows:  # the longest of each kind wins: a permanent one first
                found.setdefault(row.restriction_type, {
                    "expires_at": row.expires_at.isoformat() if row.expires_at else None, "reason": row.reason})
            return found

        return self._cached(user, f"restrictions:{user.id}", load)

    def ban(self, user: User, *, by: int, reason: str | None = None,
            until: dt.datetime | None = None, kind: str = "ban") -> UserRestriction:
        """Ban (or with ``kind="restrict"``, restrict) ``user``; ``by`` is the admin's telegram id."""
        if kind not in RESTRICTION_KINDS:
            raise ValueError(f"unknown restriction {kind!r}; known: {', '.join(RESTRICTION_KINDS)}")
        row = UserRestriction.create(user=user.id, restriction_type=kind, reason=reason, expires_at=until,
                                     created_by=by, created_at=self.clock())
        self._restrictions_changed(user)
        return row

    def restrict(self, user: User, *, by: int, reason: str | None = None,
                 until: dt.datetime | None = None) -> UserRestriction:
        return self.ban(user, by=by, reason=reason, until=until, kind="restrict")

    def unban(self, user: User) -> int:
        """Lift the user's active bans (not their restrictions); the rows stay as history."""
        return self._lift(user, "ban")

    def unrestrict(self, user: User) -> int:
        return self._lift(user, "restrict")

    def _lift(self, user: User, kind: str) -> int:
        changed = (UserRestriction.update(is_active=False)
                   .where((UserRestriction.user == user.id) & (UserRestriction.is_active == True)  # noqa: E712
                          & (UserRestriction.restriction_type == kind))
                   .execute())
        self._restrictions_changed(user)
        return changed

    def _restrictions_changed(self, user: User) -> None:
        self.cache.delete(f"restrictions:{user.id}")
        _memo(user).clear()

    # -- access lists ---------------------------------------------------------------------
    def _lists(self, user: User | None = None) -> dict[str, dict[str, set[int]]]:
        def load() -> dict[str, dict[str, list[int]]]:
            lists: dict[str, dict[str, list[int]]] = {
                "whitelist": {"user": [], "chat": []}, "blacklist": {"user": [], "chat": []}}
            for row in AccessList.select(AccessList.entity_id, AccessList.entity_type, AccessList.list_type):
                lists[row.list_type][row.entity_type].append(row.entity_id)
            return lists

        raw = self._cached(user, "lists", load)
        return {kind: {entity: set(ids) for entity, ids in by_entity.items()} for kind, by_entity in raw.items()}

    def add_to_list(self, entity_id: int, entity_type: str, list_type: str, *, by: int | None = None,
                    reason: str | None = None) -> bool:
        """True if added, False if it was already there (the triple is unique)."""
        try:
            with dbmod.database.atomic():
                AccessList.create(entity_id=entity_id, entity_type=entity_type, list_type=list_type,
                                  created_by=by, reason=reason, created_at=self.clock())
        except peewee.IntegrityError:
            return False
        finally:
            self.cache.delete("lists")
        return True

    def remove_from_list(self, entity_id: int, entity_type: str, list_type: str) -> bool:
        removed = AccessList.delete().where((AccessList.entity_id == entity_id)
                                            & (AccessList.entity_type == entity_type)
                                            & (AccessList.list_type == list_type)).execute()
        self.cache.delete("lists")
        return bool(removed)


def _memo(user: User) -> dict[str, Any]:
    """Access answers remembered on ``user`` (a per-update object) by :meth:`AccessControl._cached`."""
    memo = user.__dict__.get("_plugbot_access")
    if memo is None:
        memo = user.__dict__["_plugbot_access"] = {}
    return memo


def _settings_row() -> AppSettings:
    """The single ``app_settings`` row, created by the core migration (a blank one before it ran)."""
    return AppSettings.get_or_none(AppSettings.id == 1) or AppSettings(id=1)
