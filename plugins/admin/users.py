"""Users: ``/user``, ``/users``, ``/ban``, ``/unban``, ``/restrict``, ``/unrestrict``, ``/grant``,
``/revoke`` and ``/export_user``. The core audits every ban, restriction and role change
(``audit_logs`` and ``pd_audit_log``); views and exports of personal data are logged here."""
from __future__ import annotations

import json
from typing import Any

import peewee

from framework import SKIP, Button, CallbackData, Context, User, arg

from . import menu
from .paging import clip, page_of, span, when

ROLES = {"manage_users": "can_manage_users", "view_stats": "can_view_stats", "manage_keys": "can_manage_keys"}
SEARCH_CHARS = 24  # what fits in a page button next to the page number


class UsersPage(CallbackData, prefix="admusers"):
    """A page of /users, with the search it was made for."""

    page: int
    query: str = ""


def register(register: Any) -> None:
    register.command("user", show_user, help="help.user", permission="manage_users", args=[arg.user("target")])
    register.command("users", list_users, help="help.users", permission="manage_users",
                     args=[arg.text("search", optional=True, max_length=64)])
    register.callback(UsersPage, users_page)
    register.command("ban", ban, help="help.ban", permission="manage_users",
                     args=[arg.user("target"), arg.duration("for", optional=True),
                           arg.text("reason", optional=True, max_length=500)])
    register.command("unban", unban, help="help.unban", permission="manage_users", args=[arg.user("target")])
    register.command("restrict", restrict, help="help.restrict", permission="manage_users",
                     args=[arg.user("target"), arg.duration("for"), arg.text("reason", optional=True, max_length=500)])
    register.command("unrestrict", unrestrict, help="help.unrestrict", permission="manage_users",
                     args=[arg.user("target")])
    register.command("grant", grant, help="help.grant", permission="superadmin",
                     args=[arg.user("target"), arg.choice("permission", list(ROLES))])
    register.command("revoke", revoke, help="help.revoke", permission="superadmin",
                     args=[arg.user("target"), arg.choice("permission", list(ROLES), optional=True)])
    register.command("export_user", export_user, help="help.export_user", permission="manage_users",
                     args=[arg.user("target")])
    menu.VIEWS["users"] = lambda ctx: users_view(ctx, 0, "")


# -- one user ------------------------------------------------------------------------------------


def show_user(ctx: Context, target: User) -> None:
    profile = ctx.users.profile(target.telegram_id, actor=ctx.user)  # writes view_profile to pd_audit_log
    if profile is None:
        ctx.reply(ctx.t("user.not_found"))
        return
    lines = [ctx.t("user.header", id=target.telegram_id, name=_name(target)),
             ctx.t("user.status", status=profile.get("status") or "active", language=profile.get("language")
                   or profile.get("language_code") or "—", timezone=profile.get("timezone") or "UTC"),
             ctx.t("user.dates", created=when(profile.get("created_at")), active=when(profile.get("last_active"))),
             ctx.t("user.role", role=_role(ctx, target))]
    for kind in ("ban", "restrict"):
        found = ctx.access.active_restriction(target, kind)
        if found is not None:
            until = found["expires_at"][:16].replace("T", " ") + " UTC" if found["expires_at"] else ctx.t("forever")
            lines.append(ctx.t(f"user.{kind}", until=until, reason=found["reason"] or "—"))
    info = ctx.user_info(target)
    if info:
        lines.append(ctx.t("user.plugins"))
        for plugin, facts in info.items():
            lines.append(f"• {plugin}: " + ", ".join(f"{key} {value}" for key, value in facts.items()))
    ctx.reply("\n".join(lines))


def _name(user: User) -> str:
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or "—"
    return f"{name} (@{user.username})" if user.username else name


def _role(ctx: Context, user: User) -> str:
    if ctx.access.is_superadmin(user):
        return ctx.t("role.superadmin")
    if not ctx.access.is_admin(user):
        return ctx.t("role.none")
    return ", ".join(name for name in ROLES if ctx.access.can(user, name)) or ctx.t("role.admin")


# -- the list ------------------------------------------------------------------------------------


def list_users(ctx: Context, search: str | None) -> None:
    text, buttons = users_view(ctx, 0, clip((search or "").strip(), SEARCH_CHARS))
    ctx.reply(text, buttons=buttons)


def users_page(ctx: Context, data: UsersPage) -> Any:
    if not ctx.can("manage_users"):
        return SKIP
    text, buttons = users_view(ctx, data.page, data.query)
    ctx.edit(text, buttons=buttons)
    return None


def users_view(ctx: Context, number: int, query: str) -> tuple[str, list[list[Button]]]:
    size = int(ctx.settings["page_size"])
    rows = User.select().where(User.status != "deleted")
    if query:
        term = f"%{query.lstrip('@').lower()}%"
        matches = ((peewee.fn.LOWER(User.username) ** term) | (peewee.fn.LOWER(User.first_name) ** term)
                   | (peewee.fn.LOWER(User.last_name) ** term))
        if query.isdigit():
            matches |= User.telegram_id == int(query)
        rows = rows.where(matches)
    found = list(rows.order_by(User.last_active.desc(), User.id.desc()).offset(max(0, number) * size).limit(size + 1))
    page = page_of(number, size, len(found))
    if not found:
        return ctx.t("users.none"), []
    lines = [ctx.t("users.header", page=page.number + 1) if not query else
             ctx.t("users.header_search", page=page.number + 1, query=query)]
    for user in found[:size]:
        flags = "".join(flag for flag, on in (("★", user.is_admin), ("⛔", ctx.access.active_ban(user) is not None))
                        if on)
        lines.append(f"{user.telegram_id} {_name(user)} {flags} · {when(user.last_active)}".replace("  ", " "))
    nav = []
    if page.has_previous:
        nav.append(Button(ctx.t("page.previous"), UsersPage(page=page.number - 1, query=query)))
    if page.has_next:
        nav.append(Button(ctx.t("page.next"), UsersPage(page=page.number + 1, query=query)))
    return "\n".join(lines), [nav] if nav else []


# -- bans and restrictions -----------------------------------------------------------------------


def _refuse_admin(ctx: Context, target: User) -> bool:
    """Admins are never banned or restricted (the gate would let them through anyway)."""
    if ctx.access.is_admin(target):
        ctx.reply(ctx.t("ban.admin"))
        return True
    return False


def ban(ctx: Context, target: User, for_: Any, reason: str | None) -> None:
    if _refuse_admin(ctx, target):
        return
    until = ctx.now() + for_ if for_ is not None else None
    ctx.access.ban(target, actor=ctx.user, reason=reason, until=until)
    ctx.reply(ctx.t("ban.done", user=_name(target), until=ctx.t("until", date=when(until)) if until else ctx.t("forever"),
                    reason=reason or "—"))


def unban(ctx: Context, target: User) -> None:
    lifted = ctx.access.unban(target, actor=ctx.user)
    ctx.reply(ctx.t("unban.done" if lifted else "unban.none", user=_name(target)))


def restrict(ctx: Context, target: User, for_: Any, reason: str | None) -> None:
    if _refuse_admin(ctx, target):
        return
    until = ctx.now() + for_
    ctx.access.restrict(target, actor=ctx.user, reason=reason, until=until)
    ctx.reply(ctx.t("restrict.done", user=_name(target), until=when(until), span=span(for_), reason=reason or "—"))


def unrestrict(ctx: Context, target: User) -> None:
    lifted = ctx.access.unrestrict(target, actor=ctx.user)
    ctx.reply(ctx.t("unrestrict.done" if lifted else "unrestrict.none", user=_name(target)))


# -- roles -----------------------------------------------------------------------------------------


def _current_roles(ctx: Context, target: User) -> dict[str, bool]:
    """The target's admin_users roles now (all off for someone who is no admin)."""
    is_role_admin = ctx.access.is_admin(target) and not ctx.access.is_superadmin(target)
    return {column: is_role_admin and ctx.access.can(target, name) for name, column in ROLES.items()}


def grant(ctx: Context, target: User, permission: str) -> None:
    if ctx.access.is_superadmin(target):
        ctx.reply(ctx.t("grant.superadmin", user=_name(target)))
        return
    roles = _current_roles(ctx, target)
    roles[ROLES[permission]] = True
    ctx.access.grant(target, actor=ctx.user, **roles)
    ctx.reply(ctx.t("grant.done", user=_name(target), permission=permission))


def revoke(ctx: Context, target: User, permission: str | None) -> None:
    if ctx.access.is_superadmin(target):
        ctx.reply(ctx.t("grant.superadmin", user=_name(target)))
        return
    if not ctx.access.is_admin(target):
        ctx.reply(ctx.t("revoke.none", user=_name(target)))
        return
    roles = _current_roles(ctx, target)
    if permission is not None:
        roles[ROLES[permission]] = False
    if permission is None or not any(roles.values()):
        ctx.access.revoke(target, actor=ctx.user)
        ctx.reply(ctx.t("revoke.all", user=_name(target)))
        return
    ctx.access.grant(target, actor=ctx.user, **roles)
    ctx.reply(ctx.t("revoke.done", user=_name(target), permission=permission))


# -- export ----------------------------------------------------------------------------------------


def export_user(ctx: Context, target: User) -> None:
    document = ctx.user_data(target)
    ctx.audit.pd(ctx.user, target, "export_data", {"plugins": sorted(document["plugins"])})
    payload = json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    ctx.send_document(payload, f"user-{target.telegram_id}.json", caption=ctx.t("export.caption", user=_name(target)))
