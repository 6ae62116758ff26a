"""Typed callback data: what an inline button carries, declared once as a class.

    class ExpenseAction(CallbackData, prefix="exa"):      # owner=True by default
        action: str
        expense_id: int

    register.callback(ExpenseAction, on_action)           # on_action(ctx, data: ExpenseAction)
    ctx.reply(text, buttons=[[Button(ctx.t("undo"), ExpenseAction(action="undo", expense_id=7))]])

The core packs an instance into Telegram's callback data when the button is
built, refuses one that would not fit in Telegram's 64 bytes (a plugin bug,
raised there and then), and on a press parses and validates the data and
checks its owner before any handler runs. A forged, malformed or unknown press
never reaches a plugin.

Field types: ``str``, ``int``, ``bool``, ``Decimal``, ``datetime.date``, an
``Enum`` (packed by value) and ``Optional`` of any of these (``None`` packs as
an empty field, so an empty ``Optional[str]`` comes back as ``None``). Fields
may have defaults, as in a dataclass; an instance is a frozen dataclass.

The wire format is ``prefix:owner:field:field...`` with the owner (the Telegram
id of the user the button was made for, in base 36) left out of ``owner=False``
classes; ``:`` and ``%`` inside strings are escaped.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
import sys
import types
import typing
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

from .arguments import BIGINT_MAX, BIGINT_MIN, FIRST_YEAR, LAST_YEAR

MAX_BYTES = 64
"""Telegram's limit on a button's callback data, in UTF-8 bytes."""

SEPARATOR = ":"

_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
_INT = re.compile(r"^-?[0-9]{1,19}$")
_DECIMAL = re.compile(r"^-?[0-9]{1,30}(\.[0-9]{1,30})?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_OWNER = re.compile(r"^[0-9a-z]{1,13}$")
_ESCAPED = re.compile(r"%(25|3A)")
_SUPPORTED = (str, int, bool, Decimal, dt.date)

T = TypeVar("T", bound="CallbackData")


class CallbackDataError(ValueError):
    """Callback data that does not parse as the class it claims to be (forged, stale or corrupt)."""


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    kind: type
    optional: bool


class CallbackData:
    """Base class of a plugin's button data: ``class Name(CallbackData, prefix="abc", owner=True)``.

    ``prefix`` names the class on the wire and is claimed by one plugin (two plugins registering
    the same prefix is a startup error naming both). ``owner=True`` (the default) binds every
    button to the user it was made for: the core refuses anyone else's press with
    ``core.not_your_button``. ``owner=False`` makes a public button anyone in the chat may press.
    """

    __prefix__: ClassVar[str]
    __owner__: ClassVar[bool]
    __fields__: ClassVar[tuple[_Field, ...]]

    def __init_subclass__(cls, *, prefix: str | None = None, owner: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if prefix is None:
            raise TypeError(f"{cls.__name__}: give a prefix, e.g. class {cls.__name__}(CallbackData, prefix=\"abc\")")
        if not _PREFIX.match(prefix):
            raise ValueError(f"{cls.__name__}: prefix {prefix!r} must be 1-16 of A-Z a-z 0-9 _ . - (no ':')")
        cls.__prefix__ = prefix
        cls.__owner__ = bool(owner)
        hidden = sorted(name for name in cls.__dict__.get("__annotations__", {}) if hasattr(CallbackData, name))
        if hidden:  # a field named "pack" would replace the method and fail only when the button is sent
            raise TypeError(f"{cls.__name__}: field name(s) {', '.join(hidden)} hide CallbackData's own; rename them")
        dataclasses.dataclass(frozen=True)(cls)
        # A class declared inside a function names types local to it: look there too.
        hints = typing.get_type_hints(cls, localns=dict(sys._getframe(1).f_locals))
        cls.__fields__ = tuple(_field(cls, f.name, hints[f.name]) for f in dataclasses.fields(cls))

    def __post_init__(self) -> None:
        for f in self.__fields__:
            value = getattr(self, f.name)
            if value is None and f.optional:
                continue
            if not _is_instance(value, f.kind):
                raise TypeError(f"{type(self).__name__}.{f.name} must be {_type_name(f)}, got {value!r}")
            if f.kind is int and not BIGINT_MIN <= value <= BIGINT_MAX:
                raise ValueError(f"{type(self).__name__}.{f.name}={value} does not fit a 64-bit integer")
            if f.kind is Decimal and not value.is_finite():
                raise ValueError(f"{type(self).__name__}.{f.name} must be a finite Decimal, got {value!r}")
            if f.kind is dt.date and not FIRST_YEAR <= value.year <= LAST_YEAR:
                raise ValueError(f"{type(self).__name__}.{f.name}: dates from {FIRST_YEAR} to {LAST_YEAR} only")

    # -- the wire ------------------------------------------------------------------------------
    def pack(self, owner: int | None = None) -> str:
        """The callback data of a button for ``owner`` (a Telegram user id; ignored by public classes).

        Raises ``ValueError`` when the result is over Telegram's 64 bytes, or when an owner-bound
        class gets no owner: both are bugs of the plugin that builds the button.
        """
        parts = [self.__prefix__]
        if self.__owner__:
            if owner is None or isinstance(owner, bool) or not isinstance(owner, int) or owner <= 0:
                raise ValueError(f"{type(self).__name__} buttons belong to a user: the core packs them with the id "
                                 "of the user a reply or notice is for (a job sends them with notify(user, ...)), "
                                 "or declare the class with owner=False for a public button")
            parts.append(pack_owner(owner))
        parts += [_encode(getattr(self, f.name)) for f in self.__fields__]
        data = SEPARATOR.join(parts)
        size = len(data.encode("utf-8"))
        if size > MAX_BYTES:
            raise ValueError(f"{type(self).__name__} packs to {size} bytes, over Telegram's {MAX_BYTES}: {data!r}; "
                             "use a shorter prefix, fewer fields or ids instead of texts")
        return data

    @classmethod
    def unpack(cls: type[T], data: str) -> tuple[int | None, T]:
        """``(owner, instance)`` from callback data; ``CallbackDataError`` for anything malformed."""
        if not isinstance(data, str):
            raise CallbackDataError("callback data is not a string")
        parts = data.split(SEPARATOR)
        if parts[0] != cls.__prefix__:
            raise CallbackDataError(f"not a {cls.__name__} ({parts[0]!r} is not {cls.__prefix__!r})")
        owner = None
        if cls.__owner__:
            if len(parts) < 2 or not _OWNER.match(parts[1]):
                raise CallbackDataError(f"{cls.__name__}: no valid owner")
            owner = int(parts[1], 36)
            parts = parts[2:]
        else:
            parts = parts[1:]
        if len(parts) != len(cls.__fields__):
            raise CallbackDataError(f"{cls.__name__} has {len(cls.__fields__)} fields, the data {len(parts)}")
        values = {f.name: _decode(text, f) for f, text in zip(cls.__fields__, parts, strict=True)}
        try:
            return owner, cls(**values)
        except (TypeError, ValueError) as exc:
            raise CallbackDataError(f"{cls.__name__}: {exc}") from exc

    @classmethod
    def matches(cls, data: str | None) -> bool:
        """Does ``data`` carry this class's prefix? (Says nothing about whether it is valid.)"""
        return isinstance(data, str) and data.split(SEPARATOR, 1)[0] == cls.__prefix__


def prefix_of(data: str) -> str:
    """The prefix a piece of callback data claims: the route the core looks it up by."""
    return data.split(SEPARATOR, 1)[0]


# -- fields --------------------------------------------------------------------------------------

def _field(cls: type, name: str, hint: Any) -> _Field:
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) != 1 or len(typing.get_args(hint)) != 2:
            raise TypeError(f"{cls.__name__}.{name}: only Optional[X] unions are supported, got {hint!r}")
        hint, optional = members[0], True
    if not (hint in _SUPPORTED or (isinstance(hint, type) and issubclass(hint, enum.Enum))):
        raise TypeError(f"{cls.__name__}.{name}: {hint!r} cannot be packed into a button; "
                        "use str, int, bool, Decimal, date, an Enum or Optional of one")
    return _Field(name, hint, optional)


def _is_instance(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is dt.date:
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return isinstance(value, kind)


def _type_name(f: _Field) -> str:
    return f"{f.kind.__name__}" + (" or None" if f.optional else "")


def _encode(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, enum.Enum):
        return _escape(str(value.value))
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _escape(str(value))


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace(":", "%3A")


def _decode(text: str, f: _Field) -> Any:
    """One field from the wire; a value the core would never have packed is a CallbackDataError."""
    if text == "" and f.optional:
        return None
    kind = f.kind
    if kind is str:
        return _ESCAPED.sub(lambda m: "%" if m.group(1) == "25" else ":", text)
    if kind is bool:
        if text not in ("0", "1"):
            raise CallbackDataError(f"{f.name}: not a bool")
        return text == "1"
    if kind is int:
        if not _INT.match(text) or not BIGINT_MIN <= int(text) <= BIGINT_MAX:
            raise CallbackDataError(f"{f.name}: not a 64-bit integer")
        return int(text)
    if kind is Decimal:
        if not _DECIMAL.match(text):
            raise CallbackDataError(f"{f.name}: not a decimal")
        try:
            return Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only plain numbers
            raise CallbackDataError(f"{f.name}: not a decimal") from exc
    if kind is dt.date:
        if not _DATE.match(text):
            raise CallbackDataError(f"{f.name}: not a date")
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise CallbackDataError(f"{f.name}: not a date") from exc
    by_value = {_escape(str(member.value)): member for member in kind}
    if text not in by_value:
        raise CallbackDataError(f"{f.name}: not a {kind.__name__}")
    return by_value[text]


def pack_owner(telegram_id: int) -> str:
    """How button data names its owner: the Telegram id in base 36 (shorter, for the 64 bytes).
    Tests use it to forge raw data."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    number = telegram_id
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"
