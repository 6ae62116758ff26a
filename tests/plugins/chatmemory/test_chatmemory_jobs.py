"""The nightly summaries (daily, then 7-day and 30-day from the dailies) and their schedule."""
from __future__ import annotations

import datetime as dt
import json

from chatmemory_helpers import GROUP, START

from framework import connection_scope
from plugins.chatmemory.models import Summary

BOT = {"id": 1, "is_bot": True, "first_name": "plugbot", "username": "plugbot_test_bot"}


def summaries() -> list[tuple[int, str, str, dt.datetime]]:
    with connection_scope():
        return [(s.chat_id, s.summary_type, s.provider, s.period_end)
                for s in Summary.select().order_by(Summary.chat, Summary.summary_type, Summary.period_end)]


def test_nightly_writes_dailies_then_rollups_for_chats_that_talked(bot) -> None:
    ann, bob = bot.user(1001, first_name="Ann"), bot.user(2002, first_name="Bob")
    ann.in_chat(GROUP).send("planning the release")
    bob.in_chat(GROUP).send("release on friday")
    ann.in_chat(-2002).send("quiet group, one message")
    bob.in_chat(-3003).send("a group the bot then leaves")
    leave = {"update_id": 950, "my_chat_member": {
        "chat": {"id": -3003, "type": "group", "title": "Gone"}, "from": bob.profile, "date": bot.timestamp(),
        "old_chat_member": {"status": "member", "user": BOT}, "new_chat_member": {"status": "left", "user": BOT}}}
    bot.process(leave)
    midnight = (START + dt.timedelta(days=1)).replace(hour=0)
    bot.set_time(midnight)
    bot.run_job("chatmemory.nightly")
    written = summaries()
    assert [(chat, kind) for chat, kind, _, _ in written] == [
        (-2002, "30day"), (-2002, "7day"), (-2002, "daily"), (GROUP, "30day"), (GROUP, "7day"), (GROUP, "daily")]
    assert {end for _, _, _, end in written} == {midnight}
    bot.run_job("chatmemory.nightly")  # a rerun writes nothing twice
    assert len(summaries()) == 6
    with connection_scope():
        daily = Summary.get(Summary.chat == GROUP, Summary.summary_type == "daily")
        assert json.loads(daily.content)["messages"] == 2
        assert daily.period_start == midnight - dt.timedelta(days=1)


def test_seven_day_summary_adds_up_the_nights(bot) -> None:
    ann = bot.user(1001, first_name="Ann").in_chat(GROUP)
    midnight = (START + dt.timedelta(days=1)).replace(hour=0)
    for night in range(3):
        ann.send(f"day {night} talk about deploys")
        bot.set_time(midnight + dt.timedelta(days=night))
        bot.run_job("chatmemory.nightly")
        bot.advance(hours=9)
    bot.set_time(midnight + dt.timedelta(days=2, minutes=30))
    lines = ann.send("/summary 7day")[0].text.splitlines()
    assert "Messages: 3, participants: 1." in lines
    assert "Built from 3 daily summaries." in lines


def test_nightly_job_is_scheduled_at_the_summary_hour(make_bot) -> None:
    bot = make_bot({"summary_hour": 3})
    job = bot.app.routes.jobs["chatmemory.nightly"]
    assert (job.trigger, job.trigger_args) == ("cron", {"hour": 3, "minute": 0})
    assert bot.app.routes.jobs["chatmemory.retention"].trigger_args == {"hour": 3, "minute": 30}
