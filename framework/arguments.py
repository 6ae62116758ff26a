"""Declared command arguments: the core parses them, the handler gets keyword arguments.

    register.command("ban", ban, args=[arg.user("who"), arg.duration("for", optional=True),
                                       arg.text("reason", optional=True)])

    def ban(ctx, who, for_, reason): ...

Each argument takes one word of what follows the command, except ``text``,
which takes the rest (newlines included) and so comes last. The handler's
keyword argument is the argument's name, with ``_`` appended to a Python
keyword (``for`` → ``for_``); an optional argument that was not given is its
``default`` (``None`` unless you say otherwise). An optional argument whose
word does not parse leaves it to the next argument (``/ban @bob spam``: no
duration, the reason is "spam").

Bad input never reaches the handler: the user gets what was wrong and the
command's usage line, in their language, and the handler is not called.
``ctx.args`` keeps the raw argument text either way.

Numbers are read as people type them anywhere: every Unicode decimal digit
counts (``١٢٣`` and ``１２３`` are 123, as in Python's ``int()``), while
superscripts and other digit-like signs (``²``, ``½``) are not numbers.
"""
from __future__ import annotations

import datetime as dt
import inspect
import keyword
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import peewee

if TYPE_CHECKING:
    from .context import Context

BIGINT_MIN, BIGINT_MAX = -2**63, 2**63 - 1
FIRST_YEAR, LAST_YEAR = 1970, 2100
MAX_NUMBER_CHARS = 40          # longer is no number a person types, and int() of it costs time
SHOWN_CHARS = 40               # how much of a bad value is echoed back

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_WORD = re.compile(r"\S+")
_USERNAME = re.compile(r"^@([A-Za-z0-9_]{3,32})$")
_DURATION_PART = re.compile(r"([0-9]{1,9})([^\W\d_]+)")
DURATION_UNITS = {
    "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800,
    "с": 1, "сек": 1, "м": 60, "мин": 60, "ч": 3600, "д": 86400, "н": 604800,
}


class BadArgument(ValueError):
    """Raised by an argument's parser: ``message`` (already in the user's language) says what is wrong.

    A plugin's own ``parse=`` function raises it too; the core answers the message followed by
    the command's usage line, and does not call the handler.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Arg:
    """One declared argument. Build them with :data:`arg` (``arg.int("n")``...)."""

    name: str
    optional: bool = False
    default: Any = None
    parse: Callable[[Any, Any], Any] | None = None
    rest: bool = False          # takes the rest of the text, not one word
    options: Mapping[str, Any] = field(default_factory=dict)

    kind = "word"

    @property
    def key(self) -> str:
        """The handler's keyword argument: the name, with ``_`` after a Python keyword."""
        return self.name + "_" if keyword.iskeyword(self.name) else self.name

    def convert(self, text: str, ctx: Context) -> Any:
        """The value of ``text``; raises :class:`BadArgument`."""
        limit = self.options.get("max_length")
        if limit is not None and len(text) > limit:
            raise _bad(ctx, "too_long", name=label(ctx, self), max=limit)
        return text

    def implicit(self, ctx: Context) -> Any:
        """A value the update itself gives when the word is missing (a reply's author for ``user``)."""
        return _NOTHING

    def shape(self, ctx: Context) -> str:
        """How the argument reads in the usage line, without brackets."""
        return label(ctx, self)

    def value(self, text: str, ctx: Context) -> Any:
        converted = self.convert(text, ctx)
        if self.parse is None:
            return converted
        try:
            return self.parse(converted, ctx)
        except BadArgument:
            raise
        except (ValueError, ArithmeticError) as exc:  # a plugin's parser refusing the input
            raise _bad(ctx, "invalid", value=_shown(text), name=label(ctx, self)) from exc


_NOTHING = object()


class IntArg(Arg):
    kind = "int"

    def convert(self, text: str, ctx: Context) -> int:
        low, high = self.options["min"], self.options["max"]
        number = _integer(text)
        if number is None:
            raise _bad(ctx, "int", value=_shown(text))
        if number < low:
            raise _bad(ctx, "too_small", name=label(ctx, self), min=low)
        if number > high:
            raise _bad(ctx, "too_large", name=label(ctx, self), max=high)
        return number


class DecimalArg(Arg):
    kind = "decimal"

    def convert(self, text: str, ctx: Context) -> Decimal:
        number = _decimal(text)
        if number is None:
            raise _bad(ctx, "decimal", value=_shown(text))
        places, low, high = self.options["places"], self.options["min"], self.options["max"]
        if places is not None and -number.as_tuple().exponent > places:
            raise _bad(ctx, "places", name=label(ctx, self), places=places)
        if low is not None and number < low:
            raise _bad(ctx, "too_small", name=label(ctx, self), min=low)
        if high is not None and number > high:
            raise _bad(ctx, "too_large", name=label(ctx, self), max=high)
        return number


class DateArg(Arg):
    kind = "date"

    def convert(self, text: str, ctx: Context) -> dt.date:
        day = _date(_ascii_digits(text), lambda: _local_today(ctx))
        if day is None:
            raise _bad(ctx, "date", value=_shown(text))
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise _bad(ctx, "date_range", name=label(ctx, self), first=FIRST_YEAR, last=LAST_YEAR)
        return day


class DurationArg(Arg):
    kind = "duration"

    def convert(self, text: str, ctx: Context) -> dt.timedelta:
        seconds = _duration_seconds(_ascii_digits(text).lower())
        if seconds is None:
            raise _bad(ctx, "duration", value=_shown(text))
        low, high = self.options["min"], self.options["max"]
        if seconds < low.total_seconds():
            raise _bad(ctx, "too_small", name=label(ctx, self), min=format_duration(low))
        if seconds > high.total_seconds():
            raise _bad(ctx, "too_large", name=label(ctx, self), max=format_duration(high))
        return dt.timedelta(seconds=seconds)


class UserArg(Arg):
    kind = "user"

    def convert(self, text: str, ctx: Context) -> Any:
        from .models import User

        username = _USERNAME.match(text)
        if username is not None:
            found = User.select().where(peewee.fn.LOWER(User.username) == username.group(1).lower()).first()
        else:
            number = _integer(text)
            if number is None or number <= 0:
                raise _bad(ctx, "user", value=_shown(text))
            found = User.get_or_none(User.telegram_id == number) if number <= BIGINT_MAX else None
        if found is None:
            raise _bad(ctx, "unknown_user", value=_shown(text))
        return found

    def implicit(self, ctx: Context) -> Any:
        from .models import User

        replied = getattr(ctx.message, "reply_to_message", None) if ctx.message is not None else None
        author = getattr(replied, "from_user", None)
        if author is None or getattr(author, "is_bot", False):
            return _NOTHING
        found = User.get_or_none(User.telegram_id == author.id)
        return _NOTHING if found is None else found

    def looks_like_one(self, text: str) -> bool:
        return text.startswith("@") or _integer(text) is not None


class ChoiceArg(Arg):
    kind = "choice"

    def convert(self, text: str, ctx: Context) -> Any:
        choices: Mapping[str, Any] = self.options["choices"]
        wanted = text.casefold()
        for word, value in choices.items():
            if word.casefold() == wanted:
                return value
        raise _bad(ctx, "choice", value=_shown(text), choices=", ".join(choices))

    def shape(self, ctx: Context) -> str:
        return "|".join(self.options["choices"])


class TextArg(Arg):
    kind = "text"


class _ArgumentTypes:
    """``framework.arg``: one factory per argument type. Every one takes ``optional=``, ``default=``
    (giving a default makes the argument optional) and ``parse=``: a function ``parse(value, ctx)``
    applied to the converted value, which returns what the handler gets and raises
    :class:`BadArgument` (or ``ValueError``) to refuse it."""

    @staticmethod
    def int(name: str, *, min: int = BIGINT_MIN, max: int = BIGINT_MAX, **common: Any) -> Arg:  # noqa: A002
        """A whole number within ``min``..``max`` (by default what a 64-bit database column holds)."""
        return _make(IntArg, name, common, min=min, max=max)

    @staticmethod
    def decimal(name: str, *, places: int | None = None, min: Decimal | int | str | None = None,  # noqa: A002
                max: Decimal | int | str | None = None, **common: Any) -> Arg:  # noqa: A002
        """A decimal number (``12.50`` or ``12,50``) as a ``Decimal``, with at most ``places`` decimals."""
        return _make(DecimalArg, name, common, places=places, min=None if min is None else Decimal(min),
                     max=None if max is None else Decimal(max))

    @staticmethod
    def date(name: str, **common: Any) -> Arg:
        """A date, ``2025-03-31``, ``31.03.2025`` or ``31.03`` (this year), from 1970 to 2100."""
        return _make(DateArg, name, common)

    @staticmethod
    def duration(name: str, *, min: dt.timedelta = dt.timedelta(seconds=1),  # noqa: A002
                 max: dt.timedelta = dt.timedelta(days=3660), **common: Any) -> Arg:  # noqa: A002
        """A duration, ``30m``, ``12h``, ``7d``, ``2w``, ``1h30m`` (Russian units too), as a ``timedelta``."""
        return _make(DurationArg, name, common, min=min, max=max)

    @staticmethod
    def user(name: str, **common: Any) -> Arg:
        """A user who has written to the bot, by ``@username`` or numeric Telegram id: the core ``User`` row.

        A command sent as a reply to someone's message may leave it out: the reply's author is taken.
        """
        return _make(UserArg, name, common)

    @staticmethod
    def choice(name: str, choices: Iterable[str] | Mapping[str, Any], **common: Any) -> Arg:
        """One of ``choices`` (case-insensitive). A list gives the word as typed in the list; a mapping
        gives the value of the word, so ``{"on": True, "off": False}`` hands the handler a bool."""
        mapping = dict(choices) if isinstance(choices, Mapping) else {str(c): str(c) for c in choices}
        if not mapping:
            raise ValueError(f"argument {name!r}: a choice needs at least one word")
        return _make(ChoiceArg, name, common, choices=mapping)

    @staticmethod
    def word(name: str, *, max_length: int | None = None, **common: Any) -> Arg:
        """One word, as typed."""
        return _make(Arg, name, common, max_length=max_length)

    @staticmethod
    def text(name: str, *, max_length: int | None = None, **common: Any) -> Arg:
        """The rest of the message after the earlier arguments, newlines included (so it comes last)."""
        return _make(TextArg, name, common, rest=True, max_length=max_length)


arg = _ArgumentTypes()
"""The argument types: ``arg.int``, ``arg.decimal``, ``arg.date``, ``arg.duration``, ``arg.user``,
``arg.choice``, ``arg.word`` and ``arg.text``."""


def _make(cls: type[Arg], name: str, common: dict[str, Any], *, rest: bool = False, **options: Any) -> Arg:
    unknown = set(common) - {"optional", "default", "parse"}
    if unknown:
        raise TypeError(f"argument {name!r}: unknown option(s) {', '.join(sorted(unknown))}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"argument name {name!r} must be 1-32 of a-z, 0-9, _ starting with a letter")
    default = common.get("default")
    optional = bool(common.get("optional", False)) or default is not None
    return cls(name=name, optional=optional, default=default, parse=common.get("parse"), rest=rest,
               options=options)


# -- declaring ---------------------------------------------------------------------------------------

def check_declaration(args: Sequence[Arg], fn: Callable[..., Any], what: str) -> None:
    """Refuse at startup what could only fail later: a bad order, or a handler that cannot take them."""
    seen: set[str] = set()
    optional_before = None
    for position, item in enumerate(args):
        if not isinstance(item, Arg):
            raise ValueError(f"{what}: args must be built with framework.arg (arg.int(...)), got {item!r}")
        if item.key in seen:
            raise ValueError(f"{what}: argument {item.name!r} declared twice")
        seen.add(item.key)
        if item.rest and position != len(args) - 1:
            raise ValueError(f"{what}: text argument {item.name!r} takes the rest of the message, so it comes last")
        if item.optional:
            optional_before = item.name
        elif optional_before is not None:
            raise ValueError(f"{what}: required argument {item.name!r} comes after optional {optional_before!r}")
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to check against
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    takes = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = [item.key for item in args if item.key not in takes]
    if missing:
        raise ValueError(f"{what}: the handler {getattr(fn, '__qualname__', fn)} has no parameter for "
                         f"{', '.join(missing)} (a declared argument arrives as a keyword argument)")


# -- parsing ---------------------------------------------------------------------------------------------

def parse(ctx: Context, args: Sequence[Arg], text: str) -> dict[str, Any]:
    """The keyword arguments for the handler, from the raw argument ``text``; raises :class:`BadArgument`."""
    words = [(m.group(), m.start()) for m in _WORD.finditer(text)]
    values: dict[str, Any] = {}
    position = 0
    passed_over: BadArgument | None = None  # an optional argument's refusal, if a later one takes the word
    for index, item in enumerate(args):
        later = index < len(args) - 1
        if item.rest:
            rest = text[words[position][1]:].strip() if position < len(words) else ""
            position = len(words)
            if rest:
                values[item.key] = item.value(rest, ctx)
                continue
        elif position < len(words):
            word = words[position][0]
            implicit = _implicit_instead(item, word, ctx)
            if implicit is not _NOTHING:
                values[item.key] = implicit
                continue
            try:
                values[item.key] = item.value(word, ctx)
                position += 1
                continue
            except BadArgument as problem:
                if not (item.optional and later):
                    raise
                passed_over = passed_over or problem
                values[item.key] = item.default
                continue
        implicit = item.implicit(ctx)
        if implicit is not _NOTHING:
            values[item.key] = implicit
        elif item.optional:
            values[item.key] = item.default
        else:
            raise _bad(ctx, "missing", name=label(ctx, item))
    if position < len(words):
        raise passed_over or _bad(ctx, "extra", value=_shown(text[words[position][1]:].strip()))
    return values


def _implicit_instead(item: Arg, word: str, ctx: Context) -> Any:
    """A reply's author stands in for a ``user`` argument when the word there is clearly no user."""
    if isinstance(item, UserArg) and not item.looks_like_one(word):
        return item.implicit(ctx)
    return _NOTHING


def usage(ctx: Context, plugin: str, command: str, args: Sequence[Arg] | None, help_key: str | None,
          usage_key: str | None = None) -> str:
    """The usage line in the user's language: ``Usage: /rate <from> <to> <rate> — set an exchange rate``.

    ``usage_key`` (the command's ``usage=``) replaces it with the plugin's own text.
    """
    i18n = ctx.app.i18n
    if usage_key:
        return i18n.t(plugin, usage_key, ctx.lang)
    parts = [f"/{command}"]
    for item in args or ():
        shape = item.shape(ctx) + ("…" if item.rest else "")
        parts.append(f"[{shape}]" if item.optional else f"<{shape}>")
    line = " ".join(parts)
    if help_key:
        line += " — " + i18n.t(plugin, help_key, ctx.lang)
    return i18n.t("core", "usage", ctx.lang, usage=line)


def label(ctx: Context, item: Arg) -> str:
    """The argument's name for the user: the plugin's catalog key ``arg.<name>`` if it has one."""
    i18n = ctx.app.i18n
    owner = ctx.plugin
    if i18n.has(owner, f"arg.{item.name}", ctx.lang):
        return i18n.t(owner, f"arg.{item.name}", ctx.lang)
    return item.name


def _bad(ctx: Context, problem: str, **params: Any) -> BadArgument:
    return BadArgument(ctx.app.i18n.t("core", f"bad_arg.{problem}", ctx.lang, **params))


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"


# -- the readers, usable on their own -----------------------------------------------------------------------

def _ascii_digits(text: str) -> str:
    """Every Unicode decimal digit as its ASCII digit (``١٢٣`` → ``123``); ``²`` and the like stay as they are."""
    return "".join(str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text)


def _integer(text: str) -> int | None:
    """An integer as typed (optional sign, Unicode decimal digits), or None."""
    text = _ascii_digits(text.strip()).replace("\u2212", "-")
    body = text[1:] if text[:1] in "+-" else text
    if not body or len(body) > MAX_NUMBER_CHARS or not (body.isascii() and body.isdecimal()):
        return None
    return int(text)


_DECIMAL_TEXT = re.compile(r"^[+-]?([0-9]+([.,][0-9]+)?|[.,][0-9]+)$")


def _decimal(text: str) -> Decimal | None:
    """A plain decimal number (``12.50``, ``12,50``, ``.5``), never ``NaN``, ``inf`` or ``1e400``."""
    text = _ascii_digits(text.strip()).replace("\u2212", "-")
    if len(text) > MAX_NUMBER_CHARS or not _DECIMAL_TEXT.match(text):
        return None
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain numbers
        return None


_ISO = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_DOTTED = re.compile(r"^([0-9]{1,2})\.([0-9]{1,2})(?:\.([0-9]{4}))?$")


def _date(text: str, this_year: Callable[[], dt.date]) -> dt.date | None:
    match = _ISO.match(text)
    if match:
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    else:
        match = _DOTTED.match(text)
        if not match:
            return None
        day, month = int(match[1]), int(match[2])
        year = int(match[3]) if match[3] else this_year().year
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _local_today(ctx: Context) -> dt.date:
    try:
        zone = ZoneInfo(getattr(ctx.user, "timezone", None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a directory
        zone = ZoneInfo("UTC")
    return ctx.now().astimezone(zone).date()


def _duration_seconds(text: str) -> int | None:
    if not text or len(text) > MAX_NUMBER_CHARS:
        return None
    parts = list(_DURATION_PART.finditer(text))
    if not parts or "".join(m.group() for m in parts) != text:
        return None
    total = 0
    for match in parts:
        unit = DURATION_UNITS.get(match[2])
        if unit is None:
            return None
        total += int(match[1]) * unit
    return total


def format_duration(delta: dt.timedelta) -> str:
    """``7d``, ``12h``, ``30m``, ``45s``, or a combination: how the duration type reads."""
    seconds = int(delta.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
