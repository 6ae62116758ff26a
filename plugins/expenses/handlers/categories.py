"""/categories: show, add, rename, archive."""
from __future__ import annotations

import shlex

from framework import Context

from .. import (
    categories,
)
from ..views import (
    View,
)
from . import common

CATEGORY_VERBS = {"add": "add", "добавить": "add", "rename": "rename", "переименовать": "rename",
                  "archive": "archive", "архивировать": "archive", "архив": "archive"}


def categories_(ctx: Context) -> None:
    """/categories, /categories add Coffee ☕, /categories rename Old New, /categories archive Name."""
    try:
        words = shlex.split(ctx.args)
    except ValueError:
        words = ctx.args.split()
    verb = CATEGORY_VERBS.get(words[0].lower()) if words else None
    if verb is None:
        _show_categories(ctx)
        return
    try:
        message = _change_category(ctx, verb, words[1:])
    except categories.CategoryError as error:
        message = ctx.t(f"categories.error.{error.code}", **error.params)
    ctx.reply(message)


def _change_category(ctx: Context, verb: str, words: list[str]) -> str:
    view = View(ctx.t, common.prefs(ctx))
    book = categories.CategoryBook.of(ctx)
    if verb == "add" and words:
        emoji = words[-1] if len(words) > 1 and not any(ch.isalnum() for ch in words[-1]) else None
        name = " ".join(words[:-1] if emoji else words)
        category = book.create(name, emoji[:10] if emoji else None)
        ctx.audit("category_added", "category", category.id, {"name": category.name})
        return ctx.t("categories.added", category=view.category(category))
    if verb == "rename" and len(words) == 2:
        old = categories.find_by_name(ctx.user, words[0], include_archived=True)
        category = book.rename(words[0], words[1])
        ctx.audit("category_renamed", "category", category.id, {"from": old.name if old else words[0],
                                                                  "to": category.name})
        return ctx.t("categories.renamed", category=view.category(category))
    if verb == "archive" and words:
        category = book.archive(" ".join(words))
        ctx.audit("category_archived", "category", category.id, {"name": category.name})
        return ctx.t("categories.archived", category=view.category(category))
    return ctx.t("categories.usage")


def _show_categories(ctx: Context) -> None:
    view = View(ctx.t, common.prefs(ctx))
    every = categories.visible(ctx.user, include_archived=True)
    lines = [ctx.t("categories.title")]
    lines += [f"• {view.category(c)}" + ("" if not c.is_system else " " + ctx.t("categories.system_mark"))
              for c in every if c.is_active]
    archived = [c for c in every if not c.is_active]
    if archived:
        lines += ["", ctx.t("categories.archived_title")] + [f"• {view.category(c)}" for c in archived]
    lines += ["", ctx.t("categories.usage")]
    ctx.reply("\n".join(lines))
