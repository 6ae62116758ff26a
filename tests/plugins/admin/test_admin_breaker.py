"""Circuit-breaker notices: every admin is told when a plugin is paused and when it runs again;
a superadmin's notice has a Resume button that resumes it at once."""
from __future__ import annotations

from pathlib import Path

from admin_helpers import ALICE, KEYS, MANAGER, SUPER, audit_rows, make_bot, person, texts

FLAKY = {"admin": {}, "hello": {"module": "plugbot_hello"}, "flaky": {"module": "plugins_for_tests.flaky"}}
TESTS_FRAMEWORK = Path(__file__).resolve().parents[2] / "framework"
PAUSED = "⚠️ Plugin flaky was paused after repeated errors. Last error: ValueError: the flaky plugin broke"


def _pause(bot) -> None:
    # A plugin is paused for failures of distinct users: one user alone would only be held off it.
    for n in range(bot.app.config["circuit_breaker"]["users"]):
        bot.user(ALICE + 100 + n).send("/boom")
    assert bot.app.runtime.plugin_statuses()["flaky"] == "paused"


def test_hook_plugbot_plugin_status_tells_admins_of_a_pause_and_a_superadmin_resumes_it(bot_factory, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS_FRAMEWORK))
    bot = make_bot(bot_factory, monkeypatch, plugins=FLAKY)
    _pause(bot)
    notices = {call.chat_id: call for call in bot.telegram.calls if call.text and call.text.startswith("⚠️")}
    assert set(notices) == {SUPER, KEYS, MANAGER}                     # every admin, once
    assert all(call.text == PAUSED for call in notices.values())
    assert notices[SUPER].button_texts == ["▶️ Resume flaky"] and notices[MANAGER].button_texts == []
    assert texts(person(bot, ALICE).send("/fine")) == ["This feature is paused for now, please try again later."]

    person(bot, SUPER).press("▶️ Resume flaky")
    assert bot.telegram.messages[(SUPER, notices[SUPER].message_id)].text == "Plugin flaky resumed."
    assert texts(person(bot, ALICE).send("/fine")) == ["fine"]
    resumed = [call.chat_id for call in bot.telegram.calls if call.text == "✅ Plugin flaky runs again."]
    assert sorted(resumed) == sorted([SUPER, KEYS, MANAGER])
    [row] = audit_rows("plugin_resumed")
    assert row.telegram_id == SUPER


def test_a_pause_that_runs_out_is_announced_too(bot_factory, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS_FRAMEWORK))
    bot = make_bot(bot_factory, monkeypatch, plugins=FLAKY)
    _pause(bot)
    bot.app.plugins.plugins["flaky"].paused_until = 0                # the pause is over
    assert [r.text for r in person(bot, ALICE).send("/fine") if r.chat_id == ALICE] == ["fine"]
    assert sorted(call.chat_id for call in bot.telegram.calls if call.text == "✅ Plugin flaky runs again.") == \
        sorted([SUPER, KEYS, MANAGER])


def test_without_a_plugin_that_tells_admins_the_core_still_does(bot_factory, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS_FRAMEWORK))
    bot = make_bot(bot_factory, monkeypatch, plugins={"hello": {"module": "plugbot_hello"},
                                                      "flaky": {"module": "plugins_for_tests.flaky"}})
    _pause(bot)
    [notice] = [call for call in bot.telegram.calls if call.text and call.text.startswith("⚠️")]
    assert notice.chat_id == SUPER and "flaky" in notice.text and notice.buttons == []
