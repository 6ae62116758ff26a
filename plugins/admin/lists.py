"""Access lists (seed 004): ``/whitelist`` and ``/blacklist`` ``add|remove|list``, and ``/access
open|whitelist``. The core audits every change (and a user's entry in ``pd_audit_log``)."""
from __future__ import annotations

from typing import Any

from peewee import fn

from framework import BadArgument, Button, Context, User, arg

from . import menu
from .paging import when

ACTIONS = ("add", "remove", "list")
MODES = ("open", "whitelist")


def register(register: Any) -> None:
    for list_type in ("whitelist", "blacklist"):
        register.command(list_type, _list_command(list_type), help=f"help.{list_type}", permission="manage_users",
                         args=[arg.choice("action", ACTIONS), arg.word("who", optional=True, parse=parse_who),
                               arg.text("reason", optional=True, max_length=500)])
    register.command("access", access_mode, help="help.access", permission="manage_users",
                     args=[arg.choice("mode", MODES, optional=True)])
    menu.VIEWS["access"] = access_view


def parse_who(word: str, ctx: Context) -> tuple[int, str, User | None]:
    """``@username`` or a user's id → ``(id, "user", User | None)``; a negative id → ``(id, "chat", None)``."""
    if word.startswith("@"):
        # Exact, case-insensitive: a LIKE would read "_" in a username as a wildcard.
        user = User.select().where(fn.LOWER(User.username) == word[1:].lower()).first()
        if user is None:
            raise BadArgument(ctx.t("lists.unknown_user", who=word[:40]))
        return user.telegram_id, "user", user
    number = int(word)  # a ValueError is answered as an invalid value with the usage line
    if number < 0:
        return number, "chat", None
    if number == 0:
        raise ValueError(word)
    return number, "user", User.get_or_none(User.telegram_id == number)


def _list_command(list_type: str) -> Any:
    def handler(ctx: Context, action: str, who: tuple[int, str, User | None] | None, reason: str | None) -> None:
        if action == "list":
            ctx.reply(list_text(ctx, list_type))
            return
        if who is None:
            ctx.reply(ctx.t("lists.who_needed", command=list_type))
            return
        entity_id, entity_type, _ = who
        shown = f"{entity_type} {entity_id}"
        if action == "add":
            added = ctx.access.add_to_list(entity_id, entity_type, list_type, actor=ctx.user, reason=reason)
            ctx.reply(ctx.t("lists.added" if added else "lists.already", who=shown, list=list_type))
        else:
            removed = ctx.access.remove_from_list(entity_id, entity_type, list_type, actor=ctx.user, reason=reason)
            ctx.reply(ctx.t("lists.removed" if removed else "lists.absent", who=shown, list=list_type))

    handler.__name__ = f"{list_type}_command"
    return handler


def list_text(ctx: Context, list_type: str) -> str:
    entries = ctx.access.list_entries(list_type)
    if not entries:
        return ctx.t("lists.empty", list=list_type)
    lines = [ctx.t("lists.header", list=list_type, count=len(entries))]
    for entry in entries:
        lines.append(f"{entry.entity_type} {entry.entity_id} · {entry.reason or '—'} · {when(entry.created_at)}")
    return "\n".join(lines)


def access_mode(ctx: Context, mode: str | None) -> None:
    if mode is None:
        text, _ = access_view(ctx)
        ctx.reply(text)
        return
    changed = ctx.runtime.update_settings(actor=ctx.user, access_mode=mode)
    ctx.reply(ctx.t("access.changed" if changed else "access.same", mode=mode))


def access_view(ctx: Context) -> tuple[str, list[list[Button]]]:
    counts = {list_type: len(ctx.access.list_entries(list_type)) for list_type in ("whitelist", "blacklist")}
    return ctx.t("access.view", mode=ctx.access.current_mode(), whitelist=counts["whitelist"],
                 blacklist=counts["blacklist"]), []
