"""Declared arguments, typed buttons and SKIP: a command per argument type, a button per kind.

Every handler answers with the values it received (their repr), so a test sees both the
parsing and the types.
"""
from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from framework import (
    SKIP,
    BadArgument,
    Button,
    CallbackData,
    Context,
    Conversation,
    PluginInfo,
    Skip,
    User,
    arg,
    hookimpl,
)


class Colour(enum.Enum):
    RED = "r"
    BLUE = "b"


class Pick(CallbackData, prefix="pick"):
    """Owner-bound (the default)."""

    n: int
    colour: Colour | None = None
    day: dt.date | None = None
    price: Decimal | None = None


class Vote(CallbackData, prefix="vote", owner=False):
    """Public: anyone in the chat may press it."""

    up: bool


class Note(CallbackData, prefix="tnote"):
    text: str


class Unregistered(CallbackData, prefix="nobody"):
    n: int


class QuizAnswer(CallbackData, prefix="quiz"):
    right: bool


quiz = Conversation("quiz", states={"ASK": []}, command="quiz", args=[arg.int("level", min=1, max=3)],
                    callbacks=[QuizAnswer])


@hookimpl
def plugbot_plugin_info() -> PluginInfo:
    return PluginInfo(name="typed", version="0.1.0", description="declared arguments and typed buttons")


def _even(n: int, ctx: Context) -> int:
    if n == 0:
        raise ValueError("zero is neither")  # a plain ValueError: the core's generic "not valid"
    if n % 2:
        raise BadArgument(f"{n} is odd")
    return n // 2


@hookimpl
def plugbot_register_handlers(register: Any) -> None:
    register.command("num", lambda ctx, n: ctx.reply(f"n={n!r}"), args=[arg.int("n", min=1, max=100)])
    register.command("big", lambda ctx, id: ctx.reply(f"id={id!r}"), args=[arg.int("id")])
    register.command("price", lambda ctx, amount: ctx.reply(f"amount={amount!r}"),
                     args=[arg.decimal("amount", places=2, min="0.01", max=1000)])
    register.command("on", lambda ctx, when: ctx.reply(f"when={when!r}"), args=[arg.date("when")])
    register.command("snooze", snooze,
                     args=[arg.duration("for", max=dt.timedelta(days=7)), arg.text("reason", optional=True)])
    register.command("ban", ban, args=[arg.user("who"), arg.duration("for", optional=True),
                                       arg.text("reason", optional=True)])
    register.command("mode", lambda ctx, speed: ctx.reply(f"speed={speed!r}"),
                     args=[arg.choice("speed", {"fast": 2, "slow": 1})])
    register.command("tag", lambda ctx, name, rest: ctx.reply(f"name={name!r} rest={rest!r}"),
                     args=[arg.word("name", max_length=10), arg.text("rest", optional=True, default="-")])
    register.command("even", lambda ctx, n: ctx.reply(f"half={n!r}"), args=[arg.int("n", parse=_even)])
    register.command("nothing", lambda ctx: ctx.reply("no arguments"), args=[])
    register.command("raw", lambda ctx: ctx.reply(f"args={ctx.args!r}"))
    register.command("pick", pick)
    register.command("memo", memo)
    register.command("orphan", lambda ctx: ctx.reply("x", buttons=[[Button("x", Unregistered(n=1))]]))
    register.conversation(quiz)
    register.callback(Pick, on_pick)
    register.callback(Vote, lambda ctx, data: ctx.answer(f"vote up={data.up} by {ctx.telegram_id}"))
    register.callback(Note, lambda ctx, data: ctx.answer(f"note {data.text}"))
    register.text(first_text, priority=10)
    register.text(second_text)
    register.content(["photo"], first_photo)
    register.content(["photo"], second_photo)


def snooze(ctx: Context, for_: dt.timedelta, reason: str | None) -> None:
    ctx.reply(f"for={for_!r} reason={reason!r}")


def ban(ctx: Context, who: User, for_: dt.timedelta | None, reason: str | None) -> None:
    ctx.reply(f"who={who.telegram_id} for={for_!r} reason={reason!r}")


def pick(ctx: Context) -> None:
    ctx.reply("pick one", buttons=[
        [Button("one", Pick(n=1)), Button("red two", Pick(n=2, colour=Colour.RED, day=dt.date(2025, 3, 1),
                                                               price=Decimal("9.99")))],
        [Button("thirteen", Pick(n=13)), Button("fourteen", Pick(n=14))],
        [Button("👍", Vote(up=True))],
    ])


def on_pick(ctx: Context, data: Pick) -> Any:
    if data.n == 13:
        return SKIP
    if data.n == 14:
        raise Skip
    assert ctx.callback_data is data
    ctx.answer(f"picked {data.n} {data.colour} {data.day} {data.price}")
    return None


def memo(ctx: Context) -> None:
    ctx.reply("noted", buttons=[[Button("show", Note(text=ctx.args))]])


def first_text(ctx: Context) -> Any:
    if ctx.text.startswith("skip"):
        return SKIP
    if ctx.text.startswith("raise"):
        raise Skip
    ctx.reply("first took it")
    return None


def second_text(ctx: Context) -> None:
    ctx.reply(f"second got {ctx.text}")


def first_photo(ctx: Context) -> Any:
    if ctx.message.caption != "first":
        return SKIP
    ctx.reply("first photo handler")
    return None


def second_photo(ctx: Context) -> Any:
    if ctx.message.caption != "second":
        raise Skip
    ctx.reply("second photo handler")
    return None


@quiz.entry
def start_quiz(ctx: Context, level: int) -> None:
    ctx.session.goto("ASK", level=level)
    ctx.reply(f"level {level}: 2+2?", buttons=[[Button("4", QuizAnswer(right=True)),
                                                Button("5", QuizAnswer(right=False))]])


@quiz.state("ASK")
def on_answer(ctx: Context) -> Any:
    if isinstance(ctx.callback_data, QuizAnswer):
        ctx.session.end()
        ctx.edit("right" if ctx.callback_data.right else "wrong")
        return None
    if ctx.text == "pass":
        return SKIP  # the text handlers get it; the quiz goes on
    ctx.reply(f"answer with the buttons (level {ctx.session.data['level']})")
    return None
