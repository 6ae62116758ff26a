"""``/admin``: a menu of what this admin may do, as buttons that open each view."""
from __future__ import annotations

from typing import Any

from framework import SKIP, Button, CallbackData, Context

# Each section: the permission it needs, and the view it opens (filled in by the modules that own them).
SECTIONS: dict[str, str] = {
    "users": "manage_users",
    "access": "manage_users",
    "audit": "manage_users",
    "llm": "manage_keys",
    "plugins": "superadmin",
    "jobs": "admin",
}
VIEWS: dict[str, Any] = {}


class MenuChoice(CallbackData, prefix="admmenu"):
    """A button of the /admin menu."""

    section: str


def register(register: Any) -> None:
    register.command("admin", admin_menu, help="help.admin", permission="admin")
    register.callback(MenuChoice, open_section)


def allowed_sections(ctx: Context) -> list[str]:
    return [name for name, permission in SECTIONS.items() if name in VIEWS and ctx.can(permission)]


def admin_menu(ctx: Context) -> None:
    sections = allowed_sections(ctx)
    buttons = [[Button(ctx.t(f"menu.{name}"), MenuChoice(section=name)) for name in sections[i:i + 2]]
               for i in range(0, len(sections), 2)]
    ctx.reply(ctx.t("menu.title"), buttons=buttons)


def open_section(ctx: Context, data: MenuChoice) -> Any:
    # Checked again on every press: a button outlives the role that made it.
    if data.section not in VIEWS or not ctx.can(SECTIONS[data.section]):
        return SKIP
    text, buttons = VIEWS[data.section](ctx)
    ctx.edit(text, buttons=buttons)
    return None
