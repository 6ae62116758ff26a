"""Privacy: the chat admins' switch (checked with getChatMember), /forgetme, /nostore, banned
users and blacklisted chats, retention, and the /mydata and /deleteme hooks."""
from __future__ import annotations

import json

from chatmemory_helpers import GROUP

from framework import User, connection_scope, database
from plugins.chatmemory.models import Message, Profile, UserMemory


def contents(chat_id: int | None = None) -> list[str]:
    with connection_scope():
        query = Message.select().where(~Message.is_bot_message).order_by(Message.id)
        if chat_id is not None:
            query = query.where(Message.chat == chat_id)
        return [m.content for m in query]


def test_only_a_chat_admin_switches_the_memory(bot, ann, bob) -> None:
    group_ann, group_bob = ann.in_chat(GROUP), bob.in_chat(GROUP)
    bot.telegram.set_member(GROUP, ann.id, "administrator")
    group_ann.send("kept before")
    assert group_bob.send("/memory off")[0].text == "Only the chat's administrators can switch its memory."
    assert group_ann.send("/memory off")[0].text == \
        "This chat's memory is off: I no longer record its messages."
    group_bob.send("not kept while off")
    assert group_bob.send("/memory")[0].text.startswith("This chat's memory is off.")
    assert group_ann.send("/summary")[0].text == "This chat's memory is off (/memory on turns it back on)."
    group_ann.send("/memory on")
    group_bob.send("kept again")
    assert [c for c in contents(GROUP) if not c.startswith("/")] == ["kept before", "kept again"]


def test_the_creator_may_switch_and_a_failed_check_refuses(bot, ann) -> None:
    group = ann.in_chat(GROUP)
    bot.telegram.set_member(GROUP, ann.id, "creator")
    assert group.send("/memory off")[0].text.startswith("This chat's memory is off")
    bot.telegram.set_member(GROUP, ann.id, "left")
    assert group.send("/memory on")[0].text == "Only the chat's administrators can switch its memory."


def test_forgetme_deletes_my_messages_here_and_keeps_none_after(bot, ann, bob) -> None:
    group_ann, group_bob = ann.in_chat(GROUP), bob.in_chat(GROUP)
    group_ann.send("ann one")
    group_bob.send("bob one")
    ann.send("ann in private")
    assert group_ann.send("/forgetme")[0].text == \
        "Done: I deleted 2 of your messages here and keep nothing new of yours in this chat."  # and /forgetme
    group_ann.send("ann two")
    group_bob.send("bob two")
    assert [c for c in contents(GROUP) if not c.startswith("/")] == ["bob one", "bob two"]
    assert contents(ann.id) == ["ann in private"]
    assert "You asked me to forget you here" in group_ann.send("/context")[0].text


def test_forgetme_removes_me_from_future_summaries(bot, ann, bob) -> None:
    group_ann, group_bob = ann.in_chat(GROUP), bob.in_chat(GROUP)
    group_ann.send("ann talks about kayaks")
    group_bob.send("bob talks about kayaks")
    group_ann.send("/forgetme")
    bot.advance(minutes=1)
    text = group_bob.send("/summary")[0].text
    assert "Ann" not in text and "Messages: 1, participants: 1." in text.splitlines()


def test_nostore_as_a_reply_forgets_my_message_only(bot, ann, bob) -> None:
    group_ann, group_bob = ann.in_chat(GROUP), bob.in_chat(GROUP)
    group_ann.send("secret plan")
    group_bob.send("bob's words")
    mine = {"message_id": 1, "date": 1, "chat": group_ann.chat, "from": group_ann.profile, "text": "secret plan"}
    theirs = {"message_id": 2, "date": 1, "chat": group_ann.chat, "from": group_bob.profile, "text": "bob's words"}
    assert group_ann.send("/nostore", reply_to_message=theirs)[0].text == "You can only hide your own messages."
    assert group_ann.send("/nostore", reply_to_message=mine)[0].text == "Done: I forgot that message."
    assert group_ann.send("/nostore")[0].text.startswith("Reply /nostore")
    assert "secret plan" not in contents(GROUP) and "bob's words" in contents(GROUP)


def test_banned_users_and_blacklisted_chats_are_never_stored(bot, ann, bob) -> None:
    ann.in_chat(GROUP).send("hello")
    ann.in_chat(-77).send("hello there")
    with connection_scope(), database.atomic():
        bot.app.access.ban(User.get(User.telegram_id == ann.id), by=1)
        bot.app.access.add_to_list(-77, "chat", "blacklist")
    ann.in_chat(GROUP).send("banned words")
    bob.in_chat(-77).send("blacklisted chat words")
    bob.in_chat(GROUP).send("still kept")
    assert contents() == ["hello", "hello there", "still kept"]


def test_retention_deletes_messages_older_than_retention_days(make_bot) -> None:
    bot = make_bot({"retention_days": 10})
    ann = bot.user(1001).in_chat(GROUP)
    ann.send("old")
    bot.advance(days=9)
    ann.send("recent")
    bot.advance(days=2)
    bot.run_job("chatmemory.retention")
    assert contents() == ["recent"]


def test_mydata_and_deleteme_cover_messages_memories_and_profile(bot, ann, bob) -> None:
    ann.in_chat(GROUP).send("my group message")
    bob.in_chat(GROUP).send("bob stays")
    ann.send("/remember I like tea")
    ann.send("/pronouns she/her")
    [doc] = [r for r in ann.send("/mydata") if r.method == "send_document"]
    data = json.loads(doc.document)["plugins"]["chatmemory"]
    assert data["profile"] == {"full_name": None, "pronouns": "she/her"}
    assert [m["fact"] for m in data["memories"]] == ["I like tea"]
    assert "my group message" in [m["content"] for m in data["messages"]]
    ann.send("/deleteme")
    ann.press("Yes, delete everything")
    with connection_scope():
        assert UserMemory.select().count() == 0 and Profile.select().count() == 0
    assert contents(GROUP) == ["bob stays"]
