"""/mydata, /deleteme and the retention job through the real pipeline, on both backends."""
from __future__ import annotations

import datetime as dt
import json

from plugins_for_tests import HELLO, PROBE, build, texts
from plugins_for_tests.probe import events

from framework import User, connection_scope
from framework.models import AuditLog, PdAuditLog, UserSettings

ALICE, BOB = 1401, 1402
T0 = dt.datetime(2025, 2, 1, 9, 0, tzinfo=dt.UTC)
DELETED = "All your data has been deleted. Goodbye!"
REMINDER = "it has been a while"


def _user(telegram_id: int) -> User | None:
    with connection_scope():
        return User.get_or_none(User.telegram_id == telegram_id)


def _greeting_rows(user_id: int) -> int:
    from plugbot_hello.models import Greeting

    with connection_scope():
        return Greeting.select().where(Greeting.user == user_id).count()


def _with_nickname(bot, telegram_id: int, nickname: str):
    user = bot.user(telegram_id, first_name="Alice", username="alice")
    user.send("/hello")
    user.send("/nickname")
    user.send(nickname)
    assert texts(user.press("Yes")) == [f"Done: I'll call you {nickname}."]
    return user


def test_mydata_sends_every_plugins_data_as_json(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = _with_nickname(bot, ALICE, "Neo")
    [reply] = alice.send("/mydata")
    assert (reply.method, reply.filename) == ("send_document", "mydata.json")
    assert reply.text == "Here is all the data this bot keeps about you."
    document = json.loads(reply.document.decode("utf-8"))
    assert document["plugins"]["hello"] == {"greetings": 1, "nickname": "Neo", "morning": False}
    core = document["plugins"]["datarights"]
    assert core["profile"]["telegram_id"] == ALICE
    assert (core["profile"]["first_name"], core["profile"]["username"]) == ("Alice", "alice")
    assert [a["action"] for a in core["audit_log"]] == ["nickname_set"]
    assert texts(bot.user(BOB).send("/mydata")) == ["Here is all the data this bot keeps about you."]
    bob_doc = json.loads(bot.telegram.calls[-1].document)
    assert "hello" not in bob_doc["plugins"] and bob_doc["plugins"]["datarights"]["profile"]["telegram_id"] == BOB


def test_deleteme_asks_first_and_no_keeps_everything(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = _with_nickname(bot, ALICE, "Neo")
    [ask] = alice.send("/deleteme")
    assert ask.button_texts == ["Yes, delete everything", "No, keep my data"]
    assert texts(alice.press("No, keep my data")) == ["Nothing was deleted."]
    user = _user(ALICE)
    assert user is not None and _greeting_rows(user.id) == 1
    assert "Neo" in texts(alice.send("/hello"))[0]


def test_deleteme_confirmation_belongs_to_who_asked(bot_factory, monkeypatch, backend) -> None:
    """Bob presses "Yes, delete everything" of Alice's /deleteme: nothing is erased, least of all
    Bob's own data (the press used to erase the presser)."""
    from framework.builtins.datarights import DeleteMeAnswer

    bot = build(bot_factory, backend, monkeypatch, HELLO)
    _with_nickname(bot, ALICE, "Neo")
    _with_nickname(bot, BOB, "Bobby")
    alice, bob = bot.user(ALICE), bot.user(BOB).in_chat(-777)
    alice.send("/deleteme")
    replies = bob.press(data=DeleteMeAnswer(confirm=True), owner=ALICE)
    assert [(r.method, r.text) for r in replies] == [("answer_callback_query", "This button is not for you.")]
    assert bob.press(data=DeleteMeAnswer(confirm=False), owner=ALICE)[0].text == "This button is not for you."
    assert _user(ALICE) is not None and _user(BOB) is not None
    assert _greeting_rows(_user(BOB).id) == 1 and _greeting_rows(_user(ALICE).id) == 1
    with connection_scope():
        assert PdAuditLog.select().where(PdAuditLog.action == "delete_account").count() == 0
    assert texts(alice.press("No, keep my data")) == ["Nothing was deleted."]   # its owner still can


def test_mydata_and_deleteme_in_a_group_point_to_a_private_chat(bot_factory, monkeypatch, backend) -> None:
    """Personal data and the erase confirmation are never posted where the group reads them."""
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    _with_nickname(bot, ALICE, "Neo")
    group = bot.user(ALICE, first_name="Alice", username="alice").in_chat(-777)
    for command in ("mydata", "deleteme"):
        replies = group.send(f"/{command}")
        assert [(r.method, r.chat_id) for r in replies] == [("send_message", -777)]
        assert replies[0].buttons == []
        assert replies[0].text == (f"For your privacy, /{command} works only in a private chat with me: "
                                   f"open https://t.me/{bot.app.bot_username} and send /{command} there.")
        assert "Neo" not in replies[0].text and "alice" not in replies[0].text
    assert texts(bot.user(ALICE, language_code="ru").in_chat(-777, kind="supergroup").send("/mydata@"
                 + bot.app.bot_username))[0].startswith("Ради вашей приватности /mydata работает только")
    with connection_scope():
        assert PdAuditLog.select().where(PdAuditLog.action == "export_data").count() == 0
    assert _user(ALICE) is not None
    [document] = bot.user(ALICE).send("/mydata")  # in private it works as before
    assert document.method == "send_document" and document.chat_id == ALICE


def test_deleteme_yes_erases_and_anonymises(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = _with_nickname(bot, ALICE, "Neo")
    _with_nickname(bot, BOB, "Bobby")
    alice.send("/language ru")
    user_id = _user(ALICE).id
    with connection_scope():
        assert AuditLog.select().where(AuditLog.telegram_id == ALICE).count() == 1

    alice.send("/deleteme")
    assert texts(alice.press("Да, удалить всё")) == ["Все ваши данные удалены. До свидания!"]
    tombstone = _user(ALICE)   # the Telegram id and the status stay: the erasure is on record
    assert (tombstone.id, tombstone.status, tombstone.username, tombstone.first_name, tombstone.last_name,
            tombstone.language_code, tombstone.timezone, tombstone.is_admin) == (
        user_id, "deleted", None, None, None, "en", "UTC", False)
    assert _greeting_rows(user_id) == 0
    with connection_scope():
        assert UserSettings.select().where(UserSettings.user == user_id).count() == 0
        nickname_rows = list(AuditLog.select().where(AuditLog.action == "nickname_set").order_by(AuditLog.id))
        assert [(r.user_id, r.telegram_id) for r in nickname_rows] == [(None, None), (_user(BOB).id, BOB)]
        assert nickname_rows[0].details is None               # the nickname itself is personal data
        assert PdAuditLog.select().where((PdAuditLog.actor == user_id) | (PdAuditLog.target_user == user_id)).count() == 0
        [erased] = PdAuditLog.select().where(PdAuditLog.action == "delete_account")
        assert "hello" in erased.details["plugins"]
    assert _greeting_rows(_user(BOB).id) == 1                 # nobody else's data

    assert "greeting #1" in texts(alice.send("/hello"))[0]   # a new, empty account
    back = _user(ALICE)
    assert (back.id, back.status, back.first_name) == (user_id, "active", "Alice")   # as Telegram shows them now
    with connection_scope():
        assert UserSettings.select().where(UserSettings.user == user_id).count() == 0   # no /language of before


def test_retention_reminds_once_and_archives_at_180_days(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, PROBE)
    bot.set_time(T0)
    bot.user(ALICE, first_name="Alice").send("/hello")

    def reminded() -> list[int]:
        return [r.chat_id for r in bot.run_job("datarights.retention") if r.text and REMINDER in r.text]

    bot.set_time(T0 + dt.timedelta(days=89))
    assert reminded() == []
    bot.set_time(T0 + dt.timedelta(days=91))
    assert reminded() == [ALICE]
    assert reminded() == []                                   # the second run sends nothing
    assert events("archived") == []
    bot.set_time(T0 + dt.timedelta(days=100))
    bot.user(BOB).send("/hello")                              # an active user is left alone

    bot.set_time(T0 + dt.timedelta(days=179))
    assert reminded() == []
    assert events("archived") == []
    bot.set_time(T0 + dt.timedelta(days=181))
    assert reminded() == []
    assert [e.telegram_id for e in events("archived")] == [ALICE]
    bot.run_job("datarights.retention")
    assert len(events("archived")) == 1                       # archived once
    with connection_scope():
        assert PdAuditLog.select().where(PdAuditLog.action == "archive_data").count() == 1
    stats = bot.app.scheduler.job_stats()["datarights.retention"]
    assert (stats.runs, stats.failures) == (6, 0)

    # Coming back starts the clock again: a later absence earns a new reminder.
    bot.user(ALICE, first_name="Alice").send("/hello")
    bot.set_time(T0 + dt.timedelta(days=181 + 91))
    assert ALICE in reminded()


def test_erased_admins_role_does_not_pass_to_a_new_user(bot_factory, monkeypatch, backend) -> None:
    """Nor to the erased user coming back under their tombstone's id (nor, on SQLite, a new user)."""
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = bot.user(ALICE)
    alice.send("/hello")
    with connection_scope():
        bot.app.access.grant(_user(ALICE), can_view_stats=True)
    assert texts(alice.send("/jobs"))[0].startswith("Scheduled jobs:")     # the role is cached now
    alice.send("/deleteme")
    alice.press("Yes, delete everything")

    carol = bot.user(BOB)
    assert texts(carol.send("/jobs")) == ["I don't know /jobs. See /help."]
    with connection_scope():
        assert not bot.app.access.is_admin(_user(BOB))
    assert texts(alice.send("/jobs")) == ["I don't know /jobs. See /help."]   # back as a new user
    with connection_scope():
        assert not bot.app.access.is_admin(_user(ALICE)) and not _user(ALICE).is_admin


def test_mydata_includes_restrictions_and_who_touched_the_personal_data(bot_factory, monkeypatch, backend) -> None:
    admin_id = 1499
    bot = build(bot_factory, backend, monkeypatch, PROBE, admins=(admin_id,))
    bot.set_time(T0)
    alice, admin = bot.user(ALICE), bot.user(admin_id)
    alice.send("/language ru")
    admin.send(f"/whois {ALICE}")
    with connection_scope():
        bot.app.access.restrict(_user(ALICE), by=admin_id, reason="flooding", until=T0 + dt.timedelta(days=1))

    alice.send("/mydata")
    core = json.loads(bot.telegram.calls[-1].document)["plugins"]["datarights"]
    assert core["restrictions"] == [{"type": "restrict", "reason": "flooding", "is_active": True,
                                     "expires_at": (T0 + dt.timedelta(days=1)).isoformat(),
                                     "created_at": T0.isoformat()}]
    assert [(e["action"], e["by"]) for e in core["personal_data_log"]] == [("update_settings", "you"),
                                                                           ("view_profile", "administrator"),
                                                                           ("restrict", "administrator")]
    assert str(admin_id) not in json.dumps(core)                  # which admin it was is not Alice's data
    bob = json.loads(bot.user(BOB).send("/mydata")[-1].document)["plugins"]["datarights"]
    assert (bob["restrictions"], bob["personal_data_log"]) == ([], [])
