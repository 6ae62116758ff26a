"""The consent gate through the real update pipeline, on both backends."""
from __future__ import annotations

from plugins_for_tests import HELLO, build, texts

from framework import User, connection_scope
from framework.models import PdAuditLog, UserSettings

ALICE = 1501
CONSENT = {"consent": {"required": True}}
PROMPT_START = "Before we start"


def _row(telegram_id: int) -> User:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id)


def _greetings() -> int:
    from plugbot_hello.models import Greeting

    with connection_scope():
        return Greeting.select().count()


def _assert_only_prompt(replies) -> None:
    assert len(replies) == 1
    assert replies[0].text.startswith(PROMPT_START)
    assert replies[0].button_texts == ["I agree", "No, thanks"]


def test_nothing_but_the_prompt_before_consent(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config=CONSENT)
    alice = bot.user(ALICE, first_name="Alice", last_name="Liddell", username="alice", language_code="en")
    for text in ("/start", "/hello", "hello there", "/mydata", "/nickname"):
        _assert_only_prompt(alice.send(text))
    assert _greetings() == 0
    assert bot.app.sessions.load(ALICE).state is None
    row = _row(ALICE)
    assert (row.telegram_id, row.username, row.first_name, row.last_name) == (ALICE, None, None, None)

    assert texts(alice.press("No, thanks"))[0].startswith("Understood.")
    _assert_only_prompt(alice.send("/hello"))                  # declining changes nothing
    assert _row(ALICE).first_name is None


def test_after_agreeing_commands_work_and_names_are_stored(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config=CONSENT)
    alice = bot.user(ALICE, first_name="Alice", last_name="Liddell", username="alice")
    _assert_only_prompt(alice.send("/hello"))
    assert texts(alice.press("I agree")) == ["Thank you! Let's get started."]

    assert texts(alice.send("/hello"))[0].startswith("👋 Hello, Alice!")
    row = _row(ALICE)
    assert (row.username, row.first_name, row.last_name) == ("alice", "Alice", "Liddell")
    with connection_scope():
        settings = UserSettings.get(UserSettings.user == row.id)
        assert settings.consent_at is not None
        [given] = PdAuditLog.select().where(PdAuditLog.action == "consent_given")
        assert (given.actor_id, given.target_user_id) == (row.id, row.id)
    assert _greetings() == 1


def test_admin_consent_text_replaces_the_default(bot_factory, monkeypatch, backend) -> None:
    from framework.models import AppSettings

    bot = build(bot_factory, backend, monkeypatch, HELLO, config=CONSENT)
    with connection_scope():
        AppSettings.update(consent_text="Our own terms. Agree?").where(AppSettings.id == 1).execute()
    [reply] = bot.user(ALICE).send("/hello")
    assert reply.text == "Our own terms. Agree?"
    assert reply.button_texts == ["I agree", "No, thanks"]


def test_without_the_gate_names_are_stored_at_once(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    assert texts(bot.user(ALICE, first_name="Alice").send("/hello"))[0].startswith("👋 Hello, Alice!")
    assert _row(ALICE).first_name == "Alice"


def test_nobody_can_agree_for_someone_else_in_a_group(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config=CONSENT)
    alice, bob = bot.user(ALICE).in_chat(-42), bot.user(ALICE + 1).in_chat(-42)
    prompt = alice.send("/hello")
    _assert_only_prompt(prompt)
    assert texts(bob.press("I agree")) == ["This button is not for you."]      # Alice's prompt: Bob cannot
    with connection_scope():
        assert PdAuditLog.select().where(PdAuditLog.action == "consent_given").count() == 0
    _assert_only_prompt(bob.send("/hello"))                                  # nor did Bob agree for himself
    agree = prompt[0].buttons[0][0][1]
    assert texts(alice.press(data=agree, message=prompt[0])) == ["Thank you! Let's get started."]
