"""Typed callback data (framework/callbacks.py) through the real pipeline: packing and parsing,
the owner check before any handler, forged and malformed presses, SKIP, the 64-byte limit,
and one prefix per plugin."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from framework import Button, CallbackData, JobContext
from framework.callbacks import CallbackDataError, pack_owner
from framework.registry import RegistrationError

TYPED = {"typed": {"module": "plugins_for_tests.typed"}}
STALE = "This button is no longer valid."
NOT_YOURS = "This button is not for you."
GROUP = -4242




def toasts(replies: list[Any]) -> list[str]:
    return [r.text for r in replies if r.method == "answer_callback_query"]


def test_a_press_reaches_its_handler_with_the_parsed_data(typed_bot) -> None:
    alice = typed_bot.user(7)
    [shown] = alice.send("/pick")
    assert shown.buttons[0][1][1] == f"pick:{pack_owner(7)}:2:r:2025-03-01:9.99"   # the packed format
    assert toasts(alice.press("red two")) == ["picked 2 Colour.RED 2025-03-01 9.99"]
    assert toasts(alice.press("one")) == ["picked 1 None None None"]


def test_skip_from_a_button_handler_is_a_stale_button(typed_bot) -> None:
    alice = typed_bot.user(7)
    alice.send("/pick")
    assert toasts(alice.press("thirteen")) == [STALE]          # return SKIP
    assert toasts(alice.press("fourteen")) == [STALE]          # raise Skip: not a failure either
    assert typed_bot.app.plugins.plugins["typed"].status == "enabled"


def test_another_users_press_in_a_group_is_refused_before_the_handler(typed_bot) -> None:
    alice, bob = typed_bot.user(7).in_chat(GROUP), typed_bot.user(8).in_chat(GROUP)
    alice.send("/pick")
    assert toasts(bob.press("red two")) == [NOT_YOURS]
    assert toasts(bob.press("👍")) == ["vote up=True by 8"]     # a public button: anyone may
    assert toasts(alice.press("red two")) == ["picked 2 Colour.RED 2025-03-01 9.99"]


@pytest.mark.parametrize("data", [
    "pick", "pick:", f"pick:{pack_owner(7)}", f"pick:{pack_owner(7)}:x:::", f"pick:{pack_owner(7)}:1:green::",
    f"pick:{pack_owner(7)}:1::2025-02-30:", f"pick:{pack_owner(7)}:1::0001-01-01:", f"pick:{pack_owner(7)}:1:::NaN",
    f"pick:{pack_owner(7)}:1:::1e5", f"pick:{pack_owner(7)}:{2**70}:::", f"pick:{pack_owner(7)}:²:::",
    f"pick:{pack_owner(7)}:1:r::0.5:extra", f"pick:{pack_owner(7)}:1", "pick:!!:1:::", "pick:zzzzzzzzzzzzzzzz:1:::",
    "vote:1:2", "vote:maybe", "vote:", "tnote", "nosuchprefix:1", ":", "", "\ufffd" * 60,
])
def test_forged_and_malformed_presses_never_reach_a_handler(typed_bot, caplog, data: str) -> None:
    with caplog.at_level(logging.ERROR):
        replies = typed_bot.user(7).press(data=data)
    assert toasts(replies) == [STALE]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_data_packed_for_someone_else_is_not_yours(typed_bot) -> None:
    from plugins_for_tests.typed import Pick

    assert toasts(typed_bot.user(7).press(data=Pick(n=1), owner=8)) == [NOT_YOURS]
    assert toasts(typed_bot.user(7).press(data=Pick(n=1))) == ["picked 1 None None None"]


def test_a_too_long_button_is_the_plugins_bug_at_build_time(typed_bot, caplog) -> None:
    alice = typed_bot.user(7)
    assert [r.text for r in alice.send("/memo short")][-1] == "noted"
    with caplog.at_level(logging.ERROR, logger="plugbot.pipeline"):
        replies = alice.send("/memo " + "x" * 60)
    assert [r.text for r in replies] == [typed_bot.app.i18n.t("core", "error", "en")]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "over Telegram's 64" in str(record.exc_info[1])
    assert toasts(alice.press("show")) == ["note short"]         # the earlier, short one still works


def test_a_button_of_an_unregistered_class_is_refused_at_build_time(typed_bot, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="plugbot.pipeline"):
        replies = typed_bot.user(7).send("/orphan")
    assert [r.text for r in replies] == [typed_bot.app.i18n.t("core", "error", "en")]
    assert "no plugin registered" in str(caplog.records[-1].exc_info[1])


def test_two_plugins_claiming_one_prefix_fail_naming_both(bot_factory) -> None:
    with pytest.raises(RegistrationError, match="callback prefix 'pick' registered by both 'typed' .* and "
                                                "'prefix_thief'"):
        bot_factory({**TYPED, "prefix_thief": {"module": "plugins_for_tests.prefix_thief"}})


def test_a_jobs_buttons_belong_to_the_recipient(typed_bot) -> None:
    from plugins_for_tests.typed import Pick

    job = JobContext(typed_bot.app, "typed")
    job.send_message(42, "pick", buttons=[[Button("one", Pick(n=1))]])
    markup = job.outbox[-1].params["reply_markup"]
    assert markup.keyboard[0][0].callback_data == f"pick:{pack_owner(42)}:1:::"
    with pytest.raises(ValueError, match="buttons belong to a user"):
        job.send_message(GROUP, "pick", buttons=[[Button("one", Pick(n=1))]])


# -- declaring a class ------------------------------------------------------------------------------------

class Sample(CallbackData, prefix="smp"):
    text: str
    n: int = 0
    flag: bool = False


def test_round_trip_escapes_the_separator() -> None:
    sample = Sample(text="a:b%3A c", n=-5, flag=True)
    data = sample.pack(99)
    assert data == f"smp:{pack_owner(99)}:a%3Ab%253A c:-5:1"
    assert Sample.unpack(data) == (99, sample)
    assert Sample.matches(data) and not Sample.matches("smpx:1") and not Sample.matches(None)


def test_values_are_checked_when_a_button_is_built() -> None:
    with pytest.raises(TypeError, match="Sample.n must be int"):
        Sample(text="x", n="1")
    with pytest.raises(TypeError, match="Sample.n must be int"):
        Sample(text="x", n=True)
    with pytest.raises(ValueError, match="64-bit"):
        Sample(text="x", n=2**63)
    with pytest.raises(ValueError, match="buttons belong to a user"):
        Sample(text="x").pack()
    with pytest.raises(ValueError, match="packs to 6[5-9] bytes"):
        Sample(text="x" * 50).pack(2**40)
    with pytest.raises(CallbackDataError):
        Sample.unpack("smp:1:x:1")


def test_class_declarations_are_checked() -> None:
    with pytest.raises(TypeError, match="give a prefix"):
        class NoPrefix(CallbackData):
            n: int
    with pytest.raises(ValueError, match="no ':'"):
        class Colon(CallbackData, prefix="a:b"):
            n: int
    with pytest.raises(TypeError, match="cannot be packed"):
        class Floaty(CallbackData, prefix="fl"):
            n: float
    with pytest.raises(TypeError, match="only Optional"):
        class Either(CallbackData, prefix="ei"):
            n: int | str
    with pytest.raises(TypeError, match="raw string callback data is gone"):
        Button("x", "legacy:data")


def test_register_callback_takes_a_class_and_a_two_argument_handler(bot_factory, monkeypatch) -> None:
    import plugins_for_tests.typed as typed

    original = typed.plugbot_register_handlers
    for bad_call, message in (((("legacy", lambda ctx, data: None)), "takes a framework.CallbackData class"),
                              (((Sample, lambda ctx: None)), "must take \\(ctx, data\\)")):
        def register_more(register: Any, bad_call: Any = bad_call) -> None:
            original(register)
            register.callback(*bad_call)

        monkeypatch.setattr(typed, "plugbot_register_handlers", typed.hookimpl(register_more))
        with pytest.raises(RegistrationError, match=message):
            bot_factory(TYPED)


def test_a_field_named_like_a_method_is_refused_where_the_class_is_declared() -> None:
    from framework import CallbackData

    with pytest.raises(TypeError, match="field name\\(s\\) pack hide CallbackData's own"):
        class Shop(CallbackData, prefix="shopx"):  # noqa: F841 - declaring it is the test
            pack: str
