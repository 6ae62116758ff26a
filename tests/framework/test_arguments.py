"""Declared command arguments (framework/arguments.py) through the real pipeline: every type,
hostile input, the usage answer in English and Russian, and what the handler receives."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from plugins_for_tests import HELLO, build

from framework import arg
from framework.registry import RegistrationError

TYPED = {"typed": {"module": "plugins_for_tests.typed"}}




def answer(typed_bot: Any, text: str, **profile: Any) -> str:
    """The one text the typed_bot answered ``text`` with."""
    [reply] = typed_bot.user(7, **profile).send(text)
    return reply.text


# -- numbers --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("/num 42", "n=42"),
    ("/num +7", "n=7"),
    ("/num ١٢", "n=12"),                              # Arabic-Indic digits are digits
    ("/num ４２", "n=42"),                             # and so are full-width ones
    ("/num 0", "n must be at least 1.\nUsage: /num <n>"),
    ("/num 101", "n must be at most 100.\nUsage: /num <n>"),
    ("/num ²", "“²” is not a whole number.\nUsage: /num <n>"),     # "²".isdigit() is True; int() refuses it
    ("/num ½", "“½” is not a whole number.\nUsage: /num <n>"),
    ("/num 4.5", "“4.5” is not a whole number.\nUsage: /num <n>"),
    ("/num", "Missing n.\nUsage: /num <n>"),
    ("/num 1 2", "I did not expect “2” here.\nUsage: /num <n>"),
    (f"/big {2**70}", f"id must be at most {2**63 - 1}.\nUsage: /big <id>"),   # no BIGINT overflow in a query
    (f"/big -{2**63}", f"id={-2**63}"),
    ("/big " + "9" * 5000, "“" + "9" * 39 + "…” is not a whole number.\nUsage: /big <id>"),
])
def test_int(typed_bot, text: str, expected: str) -> None:
    assert answer(typed_bot, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("/price 12.50", "amount=Decimal('12.50')"),
    ("/price 12,5", "amount=Decimal('12.5')"),
    ("/price .99", "amount=Decimal('0.99')"),
    ("/price 1.999", "amount: at most 2 digits after the decimal point.\nUsage: /price <amount>"),
    ("/price 0", "amount must be at least 0.01.\nUsage: /price <amount>"),
    ("/price 99999999999999999", "amount must be at most 1000.\nUsage: /price <amount>"),
    ("/price NaN", "“NaN” is not a number.\nUsage: /price <amount>"),
    ("/price 1e400", "“1e400” is not a number.\nUsage: /price <amount>"),
    ("/price Infinity", "“Infinity” is not a number.\nUsage: /price <amount>"),
    ("/price 1,000.50", "“1,000.50” is not a number.\nUsage: /price <amount>"),
])
def test_decimal(typed_bot, text: str, expected: str) -> None:
    assert answer(typed_bot, text) == expected


# -- dates and durations ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("/on 2025-03-31", "when=datetime.date(2025, 3, 31)"),
    ("/on 31.03.2025", "when=datetime.date(2025, 3, 31)"),
    ("/on 1.4", "when=datetime.date(2025, 4, 1)"),                 # this year, on the bot's clock
    ("/on 1970-01-01", "when=datetime.date(1970, 1, 1)"),
    ("/on 2100-12-31", "when=datetime.date(2100, 12, 31)"),
    ("/on 0001-01-01", "when: only dates from 1970 to 2100.\nUsage: /on <when>"),
    ("/on 9999-12-31", "when: only dates from 1970 to 2100.\nUsage: /on <when>"),
    ("/on 31.02.2025", "“31.02.2025” is not a date: write 2025-03-31, 31.03.2025 or 31.03.\nUsage: /on <when>"),
    ("/on tomorrow", "“tomorrow” is not a date: write 2025-03-31, 31.03.2025 or 31.03.\nUsage: /on <when>"),
])
def test_date(typed_bot, text: str, expected: str) -> None:
    assert answer(typed_bot, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("/snooze 30m", "for=datetime.timedelta(seconds=1800) reason=None"),
    ("/snooze 12h", "for=datetime.timedelta(seconds=43200) reason=None"),
    ("/snooze 1h30m coffee", "for=datetime.timedelta(seconds=5400) reason='coffee'"),
    ("/snooze 2д", "for=datetime.timedelta(days=2) reason=None"),
    ("/snooze 8d", "for must be at most 7d.\nUsage: /snooze <for> [reason…]"),
    ("/snooze 0m", "for must be at least 1s.\nUsage: /snooze <for> [reason…]"),
    ("/snooze 99999999999999999999d", "“99999999999999999999d” is not a duration: write 30m, 12h or 7d.\n"
                                      "Usage: /snooze <for> [reason…]"),
    ("/snooze soon", "“soon” is not a duration: write 30m, 12h or 7d.\nUsage: /snooze <for> [reason…]"),
    ("/snooze 5 m", "“5” is not a duration: write 30m, 12h or 7d.\nUsage: /snooze <for> [reason…]"),
])
def test_duration(typed_bot, text: str, expected: str) -> None:
    assert answer(typed_bot, text) == expected


# -- users, choices, words and text --------------------------------------------------------------------

def test_user_by_username_id_or_reply(typed_bot) -> None:
    typed_bot.user(8, username="Bobby").send("hi")
    assert answer(typed_bot, "/ban @bobby 1d spam") == "who=8 for=datetime.timedelta(days=1) reason='spam'"
    assert answer(typed_bot, "/ban 8 spam and eggs") == "who=8 for=None reason='spam and eggs'"   # no duration: passed on
    assert answer(typed_bot, "/ban @nobody_here") == (
        "I don't know @nobody_here: they have to write to me first.\nUsage: /ban <who> [for] [reason…]")
    assert answer(typed_bot, f"/ban {2**70}") == (
        f"I don't know {2**70}: they have to write to me first.\nUsage: /ban <who> [for] [reason…]")
    assert answer(typed_bot, "/ban bob") == (
        "“bob” is not a user: write their @username or numeric id.\nUsage: /ban <who> [for] [reason…]")
    replied = {"message_id": 1, "date": 0, "chat": {"id": -5, "type": "group", "title": "G"},
               "from": {"id": 8, "is_bot": False, "first_name": "Bob"}, "text": "spam!"}
    [reply] = typed_bot.user(7).in_chat(-5).send("/ban 2h flooding", reply_to_message=replied)
    assert reply.text == "who=8 for=datetime.timedelta(seconds=7200) reason='flooding'"


def test_choice_word_and_text(typed_bot) -> None:
    assert answer(typed_bot, "/mode FAST") == "speed=2"
    assert answer(typed_bot, "/mode turbo") == "“turbo” is not one of: fast, slow.\nUsage: /mode <fast|slow>"
    assert answer(typed_bot, "/tag short") == "name='short' rest='-'"
    assert answer(typed_bot, "/tag waytoolongname") == "name is too long: at most 10 characters.\nUsage: /tag <name> [rest…]"
    assert answer(typed_bot, "/tag a  first line\n second line ") == "name='a' rest='first line\\n second line'"


def test_text_after_a_newline_is_arguments(typed_bot) -> None:
    assert answer(typed_bot, "/num\n42") == "n=42"
    assert answer(typed_bot, "/tag\nx\nmore") == "name='x' rest='more'"
    assert answer(typed_bot, "/raw\n12.50") == "args='12.50'"          # ctx.args stays the raw text
    assert answer(typed_bot, "/raw@plugbot_test_bot\tx  y") == "args='x  y'"


def test_a_plugins_own_parser(typed_bot) -> None:
    assert answer(typed_bot, "/even 8") == "half=4"
    assert answer(typed_bot, "/even 7") == "7 is odd\nUsage: /even <n>"
    assert answer(typed_bot, "/even 0") == "“0” is not a valid n.\nUsage: /even <n>"
    assert answer(typed_bot, "/even x") == "“x” is not a whole number.\nUsage: /even <n>"


def test_a_command_declaring_no_arguments_refuses_some(typed_bot) -> None:
    assert answer(typed_bot, "/nothing") == "no arguments"
    assert answer(typed_bot, "/nothing at all") == "I did not expect “at all” here.\nUsage: /nothing"


# -- the usage answer in the user's language --------------------------------------------------------------

def test_usage_in_russian(typed_bot) -> None:
    assert answer(typed_bot, "/num 0", language_code="ru") == "n: не меньше 1.\nКак пользоваться: /num <n>"
    assert answer(typed_bot, "/on 0001-01-01", language_code="ru") == (
        "when: только даты с 1970 по 2100 год.\nКак пользоваться: /on <when>")


def test_usage_line_names_and_help_come_from_the_plugins_catalog(bot_factory, monkeypatch) -> None:
    bot = build(bot_factory, "memory", monkeypatch, HELLO)
    en = bot.user(1).send("/morning")[0].text
    assert en == "Missing on or off.\nUsage: /morning <on|off> — good-morning messages on|off"
    ru = bot.user(2, language_code="ru").send("/morning maybe")[0].text
    assert ru.startswith("«maybe» — не из списка: on, off.\nКак пользоваться: /morning <on|off> — ")
    assert bot.user(3).send("/morning on")[0].text.startswith("I'll say good morning")


def test_the_handler_is_not_called_on_bad_input(bot_factory, monkeypatch) -> None:
    from framework import connection_scope

    bot = build(bot_factory, "memory", monkeypatch, HELLO)
    bot.user(1).send("/morning sometimes")
    with connection_scope():
        assert bot.app.db.execute_sql("SELECT count(*) FROM hello_greetings").fetchone()[0] == 0


# -- declaring -------------------------------------------------------------------------------------------------

def _register(bot_factory: Any, monkeypatch: pytest.MonkeyPatch, *args: Any, fn: Any = None) -> None:
    import plugins_for_tests.typed as typed

    original = typed.plugbot_register_handlers

    def register_one_more(register: Any) -> None:
        original(register)
        register.command("extra", fn or (lambda ctx, **values: None), args=list(args))

    monkeypatch.setattr(typed, "plugbot_register_handlers", typed.hookimpl(register_one_more))
    bot_factory(TYPED)


@pytest.mark.parametrize(("args", "message"), [
    ((arg.text("a"), arg.int("b")), "text argument 'a' takes the rest of the message, so it comes last"),
    ((arg.int("a", optional=True), arg.int("b")), "required argument 'b' comes after optional 'a'"),
    ((arg.int("a"), arg.word("a")), "argument 'a' declared twice"),
])
def test_a_bad_declaration_fails_at_startup(bot_factory, monkeypatch, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(RegistrationError, match=message):
        _register(bot_factory, monkeypatch, *args)


def test_a_handler_without_the_parameters_fails_at_startup(bot_factory, monkeypatch) -> None:
    def handler(ctx: Any, who: Any) -> None: ...

    with pytest.raises(RegistrationError, match="has no parameter for for_, reason"):
        _register(bot_factory, monkeypatch, arg.user("who"), arg.duration("for"), arg.text("reason"), fn=handler)


def test_argument_names_are_checked() -> None:
    with pytest.raises(ValueError, match="must be 1-32 of a-z"):
        arg.int("Bad Name")
    with pytest.raises(TypeError, match="unknown option"):
        arg.int("n", maximum=3)
    assert arg.duration("for").key == "for_" and arg.int("n", default=3).optional
    assert arg.decimal("x", max=5).options["max"] == Decimal(5)
