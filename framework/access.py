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

    from .audit import AuditService
    from .cache import Cache
    from .context import Context

PERMISSIONS = {
    "admin": None,                       # any admin
    "manage_keys": "can_manage_keys",
    "view_stats": "can_view_stats",
    "manage_users": "can_manage_users",
    "superadmin": None,
}
_ROLE_COLUMNS = ("can_manage_users", "can_view_stats", "can_manage_keys")
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
                 mode: str = "open", consent_required: bool = False, audit: AuditService | None = None,
                 live_settings: Callable[[], dict[str, Any]] | None = None):
        self.cache = cache
        self.clock = clock
        self.admins = frozenset(admins)
        self.mode = mode
        self.consent_required = consent_required
        self.audit = audit
        # The admins' runtime settings (access mode, consent text): read on every check, so a change
        # made in any process applies without a restart (see framework.runtime).
        self.live_settings = live_settings
        # Called with the user whose admin role changed (the application refreshes their command menu).
        self.role_listeners: list[Callable[[User], None]] = []

    def current_mode(self) -> str:
        """``open`` or ``whitelist``: the admins' runtime choice, else the config's ``access.mode``."""
        live = self.live_settings() if self.live_settings is not None else {}
        return live.get("access_mode") or self.mode

    def _audit(self, action: str, target: User | None, actor: User | None, details: dict[str, Any],
               *, personal: bool = True) -> None:
        """Every access change leaves an audit row (and, when it concerns a user, a pd_audit_log row)."""
        if self.audit is None:
            return
        self.audit.log(action, user=actor, plugin="core", entity_type="user" if target is not None else "access_list",
                       entity_id=target.telegram_id if target is not None else details.get("entity_id"),
                       details=details)
        if personal and target is not None:
            self.audit.pd(actor, target, action, details)

    # -- permissions ----------------------------------------------------------------
    def is_superadmin(self, user: User) -> bool:
        return user.telegram_id in self.admins

    def admin_ids(self) -> list[int]:
        """Telegram ids of every admin: the config's superadmins, then the ``admin_users`` rows."""
        roles = [row.telegram_id for row in User.select(User.telegram_id)
                 .join(AdminUser, on=(AdminUser.user == User.id)).order_by(User.telegram_id)]
        return sorted(self.admins) + [tid for tid in roles if tid not in self.admins]

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

    def grant(self, user: User, *, actor: User | None = None, reason: str | None = None, **roles: bool) -> AdminUser:
        """Make ``user`` an admin (an ``admin_users`` row) with ``roles`` (``can_manage_users=True``...);
        keeps ``users.is_admin`` in step, audits ``grant`` with ``actor`` and tells the role listeners."""
        unknown = sorted(set(roles) - {column for column in PERMISSIONS.values() if column})
        if unknown:
            raise ValueError(f"unknown admin role {', '.join(unknown)}")
        row, _ = AdminUser.get_or_create(user=user.id)
        for name, value in roles.items():
            setattr(row, name, bool(value))
        row.save()
        User.update(is_admin=True).where(User.id == user.id).execute()
        self._roles_changed(user)
        self._audit("grant", user, actor, {"roles": {name: bool(getattr(row, name)) for name in _ROLE_COLUMNS},
                                           "reason": reason})
        return row

    def revoke(self, user: User, *, actor: User | None = None, reason: str | None = None) -> bool:
        """Take ``user``'s ``admin_users`` row away (a config superadmin stays one); audited as ``revoke``."""
        removed = AdminUser.delete().where(AdminUser.user == user.id).execute()
        User.update(is_admin=self.is_superadmin(user)).where(User.id == user.id).execute()
        self._roles_changed(user)
        if removed:
            self._audit("revoke", user, actor, {"reason": reason})
        return bool(removed)

    def _roles_changed(self, user: User) -> None:
        self.cache.delete(f"role:{user.id}")
        _memo(user).clear()
        for listener in list(self.role_listeners):
            listener(user)

    def forget(self, user: User) -> None:
        """Drop the cached role and restrictions of an erased user: if they come back, it is under the same id."""
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
        if self.current_mode() == "whitelist":
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
        if ctx.user.status == "suspended" and self.lift_expired_bans(ctx.user):
            ctx.users.invalidate(tid)  # the ban ran out: the cached profile still says suspended
        if self.consent_required and not self._consented(ctx.user):
            if ConsentAnswer.matches(ctx.data):
                return Verdict(True)  # the press is still owner-checked and parsed before its handler
            return Verdict(False, self.consent_text(ctx),
                           [[Button(ctx.t("core.consent.accept_button"), ConsentAnswer(accept=True)),
                             Button(ctx.t("core.consent.decline_button"), ConsentAnswer(accept=False))]])
        return Verdict(True)

    def _consented(self, user: User) -> bool:
        """Has ``user`` agreed to the current consent text? A text the admins changed since asks again."""
        if not getattr(user, "_consent", False):
            return False
        revised = (self.live_settings() if self.live_settings is not None else {}).get("consent_updated_at")
        if revised is None:
            return True
        agreed = getattr(user, "_consent_at", None)
        return agreed is not None and dt.datetime.fromisoformat(agreed) >= revised

    def consent_text(self, ctx: Context) -> str:
        """The consent text an admin set in ``app_settings`` (it changes without a deploy), else the default."""
        if self.live_settings is not None:
            text = self.live_settings().get("consent_text") or ""
        else:
            text = self.cache.get_or_set("consent_text", lambda: _settings_row().consent_text or "", ttl=CACHE_TTL)
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

    def ban(self, user: User, *, by: int | None = None, actor: User | None = None, reason: str | None = None,
            until: dt.datetime | None = None, kind: str = "ban") -> UserRestriction:
        """Ban (or with ``kind="restrict"``, restrict) ``user`` until ``until`` (None: for good).

        ``actor`` is the admin's ``User`` (``by``, their telegram id, is enough for the row but
        leaves the audit rows without an actor). Audited as ``ban`` / ``restrict`` with reason and expiry.
        """
        if kind not in RESTRICTION_KINDS:
            raise ValueError(f"unknown restriction {kind!r}; known: {', '.join(RESTRICTION_KINDS)}")
        if by is None:
            if actor is None:
                raise ValueError("ban() needs the admin: actor=User or by=telegram_id")
            by = actor.telegram_id
        elif actor is None:
            actor = User.get_or_none(User.telegram_id == by)
        row = UserRestriction.create(user=user.id, restriction_type=kind, reason=reason, expires_at=until,
                                     created_by=by, created_at=self.clock())
        if kind == "ban":  # seed 000/002 users.status says it too, for tools that read the table
            User.update(status="suspended").where(User.id == user.id, User.status.in_(("active", "blocked"))).execute()
        self._restrictions_changed(user)
        self._audit(kind, user, actor, {"reason": reason, "expires_at": until.isoformat() if until else None})
        return row

    def restrict(self, user: User, *, by: int | None = None, actor: User | None = None, reason: str | None = None,
                 until: dt.datetime | None = None) -> UserRestriction:
        return self.ban(user, by=by, actor=actor, reason=reason, until=until, kind="restrict")

    def unban(self, user: User, *, actor: User | None = None, reason: str | None = None) -> int:
        """Lift the user's active bans (not their restrictions); the rows stay as history. Audited as ``unban``."""
        return self._lift(user, "ban", actor, reason)

    def unrestrict(self, user: User, *, actor: User | None = None, reason: str | None = None) -> int:
        return self._lift(user, "restrict", actor, reason)

    def _lift(self, user: User, kind: str, actor: User | None, reason: str | None) -> int:
        changed = (UserRestriction.update(is_active=False)
                   .where((UserRestriction.user == user.id) & (UserRestriction.is_active == True)  # noqa: E712
                          & (UserRestriction.restriction_type == kind))
                   .execute())
        if kind == "ban":
            User.update(status="active").where(User.id == user.id, User.status == "suspended").execute()
        self._restrictions_changed(user)
        if changed:
            self._audit(f"un{kind}", user, actor, {"reason": reason, "lifted": changed})
        return changed

    def lift_expired_bans(self, user: User | None = None) -> list[int]:
        """``users.status`` back to ``active`` for users ``suspended`` whose every ban has expired (or
        just ``user``); their Telegram ids. A ban stops applying at its ``expires_at`` without this
        (see the module doc); this keeps the column, which broadcasts and jobs select on, true: run
        on the user's next update, by the core's ``lift_expired_bans`` job, and before /user."""
        now = self.clock()
        in_force = UserRestriction.select(UserRestriction.id).where(
            (UserRestriction.user == User.id) & (UserRestriction.restriction_type == "ban")
            & (UserRestriction.is_active == True)  # noqa: E712
            & (UserRestriction.expires_at.is_null() | (UserRestriction.expires_at > now)))
        query = User.select(User.id, User.telegram_id).where((User.status == "suspended") & ~peewee.fn.EXISTS(in_force))
        if user is not None:
            query = query.where(User.id == user.id)
        lifted = []
        for row in query:
            if User.update(status="active", updated_at=now).where(
                    (User.id == row.id) & (User.status == "suspended")).execute():
                lifted.append(row.telegram_id)
        return lifted

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
                    actor: User | None = None, reason: str | None = None) -> bool:
        """True if added, False if it was already there (the triple is unique). Audited as
        ``whitelist_add`` / ``blacklist_add`` (a user's entry in pd_audit_log too)."""
        if by is None and actor is not None:
            by = actor.telegram_id
        elif actor is None and by is not None:
            actor = User.get_or_none(User.telegram_id == by)
        try:
            with dbmod.database.atomic():
                AccessList.create(entity_id=entity_id, entity_type=entity_type, list_type=list_type,
                                  created_by=by, reason=reason, created_at=self.clock())
        except peewee.IntegrityError:
            return False
        finally:
            self.cache.delete("lists")
        self._list_changed(f"{list_type}_add", entity_id, entity_type, actor, reason)
        return True

    def remove_from_list(self, entity_id: int, entity_type: str, list_type: str, *, actor: User | None = None,
                         reason: str | None = None) -> bool:
        removed = AccessList.delete().where((AccessList.entity_id == entity_id)
                                            & (AccessList.entity_type == entity_type)
                                            & (AccessList.list_type == list_type)).execute()
        self.cache.delete("lists")
        if removed:
            self._list_changed(f"{list_type}_remove", entity_id, entity_type, actor, reason)
        return bool(removed)

    def list_entries(self, list_type: str) -> list[AccessList]:
        """The ``whitelist`` or ``blacklist`` rows, oldest first (for an admin's listing)."""
        return list(AccessList.select().where(AccessList.list_type == list_type).order_by(AccessList.id))

    def _list_changed(self, action: str, entity_id: int, entity_type: str, actor: User | None,
                      reason: str | None) -> None:
        target = User.get_or_none(User.telegram_id == entity_id) if entity_type == "user" else None
        details = {"entity_id": entity_id, "entity_type": entity_type, "reason": reason}
        if target is None:
            self._audit(action, None, actor, details, personal=False)
        else:
            self._audit(action, target, actor, details)


def _memo(user: User) -> dict[str, Any]:
    """Access answers remembered on ``user`` (a per-update object) by :meth:`AccessControl._cached`."""
    memo = user.__dict__.get("_plugbot_access")
    if memo is None:
        memo = user.__dict__["_plugbot_access"] = {}
    return memo


def _settings_row() -> AppSettings:
    """The single ``app_settings`` row, created by the core migration (a blank one before it ran)."""
    return AppSettings.get_or_none(AppSettings.id == 1) or AppSettings(id=1)
