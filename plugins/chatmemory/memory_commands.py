"""/remember, /memories, /forget and /pronouns: what a user asks the bot to keep about them."""
from __future__ import annotations

from framework import Context, arg

from .repositories import MemoryRepository, ProfileRepository, normalize_fact

REMEMBER_ARGS = [arg.text("fact")]
FORGET_ARGS = [arg.word("which")]
PRONOUNS_ARGS = [arg.text("pronouns", optional=True)]


def _memories(ctx: Context) -> MemoryRepository:
    return MemoryRepository(max_facts=int(ctx.settings["max_facts"]))


def remember(ctx: Context, fact: str) -> None:
    text = normalize_fact(fact)
    limit = int(ctx.settings["max_fact_length"])
    if not text:
        ctx.reply(ctx.t("memory.empty"))
        return
    if len(text) > limit:
        ctx.reply(ctx.t("memory.too_long", limit=limit, length=len(text)))
        return
    outcome, dropped = _memories(ctx).add_memory(ctx.user, text, now=ctx.now(),
                                                 source_message_id=ctx.message.message_id, source_chat_id=ctx.chat_id)
    if outcome == "duplicate":
        ctx.reply(ctx.t("memory.duplicate", fact=text))
    elif dropped:
        ctx.reply(ctx.t("memory.saved_dropped", fact=text, limit=ctx.settings["max_facts"]))
    else:
        ctx.reply(ctx.t("memory.saved", fact=text))


def memories(ctx: Context) -> None:
    facts = _memories(ctx).get_memories(ctx.user)
    if not facts:
        ctx.reply(ctx.t("memory.none"))
        return
    lines = [ctx.t("memory.list_title", count=len(facts))]
    lines += [f"{n}. {memory.fact}" for n, memory in enumerate(facts, 1)]
    ctx.reply("\n".join(lines))


def forget(ctx: Context, which: str) -> None:
    repo = _memories(ctx)
    if which.lower() in ("all", "все", "всё"):
        count = repo.forget_all(ctx.user)
        ctx.reply(ctx.tn("memory.forgot_all", count) if count else ctx.t("memory.none"))
        return
    if not which.isdigit():
        ctx.reply(ctx.t("memory.forget_usage"))
        return
    memory = repo.forget(ctx.user, int(which))
    if memory is None:
        ctx.reply(ctx.t("memory.no_such", number=which))
        return
    ctx.reply(ctx.t("memory.forgot", fact=memory.fact))


def pronouns(ctx: Context, pronouns: str | None) -> None:
    repo = ProfileRepository()
    text = normalize_fact(pronouns or "")
    limit = int(ctx.settings["max_pronouns_length"])
    if not text:
        profile = repo.get(ctx.user)
        current = profile.pronouns if profile is not None else None
        ctx.reply(ctx.t("pronouns.current", pronouns=current) if current else ctx.t("pronouns.unset"))
        return
    if text.lower() in ("-", "none", "off", "clear"):
        repo.set_pronouns(ctx.user, None, ctx.now())
        ctx.reply(ctx.t("pronouns.cleared"))
        return
    if len(text) > limit:
        ctx.reply(ctx.t("pronouns.too_long", limit=limit))
        return
    repo.set_pronouns(ctx.user, text, ctx.now())
    ctx.reply(ctx.t("pronouns.saved", pronouns=text))
