"""/mydata and /deleteme: the user's messages, memories, profile extras and opt-outs."""
from __future__ import annotations

from typing import Any

from framework import User

from .models import Chat, Message, OptOut, Profile, Summary, UserMemory


def export(user: User) -> dict[str, Any]:
    profile = Profile.get_or_none(Profile.user == user.id)
    return {
        "profile": None if profile is None else {"full_name": profile.full_name, "pronouns": profile.pronouns},
        "memories": [{"fact": m.fact, "created_at": m.created_at.isoformat()}
                     for m in UserMemory.select().where(UserMemory.user == user.id).order_by(UserMemory.id)],
        "messages": [{"chat_id": m.chat_id, "message_id": m.telegram_message_id, "content": m.content,
                      "content_type": m.content_type, "created_at": m.created_at.isoformat(),
                      "edited_at": m.edited_at.isoformat() if m.edited_at else None}
                     for m in Message.select().where(Message.user == user.id).order_by(Message.id)],
        "forgotten_in_chats": [o.chat_id for o in OptOut.select().where(OptOut.user == user.id)],
    }


def delete(user: User) -> None:
    Message.delete().where(Message.user == user.id).execute()
    UserMemory.delete().where(UserMemory.user == user.id).execute()
    Profile.delete().where(Profile.user == user.id).execute()
    OptOut.delete().where(OptOut.user == user.id).execute()
    for summary in Summary.select(Summary.id, Summary.participants):  # rare: a scan is fine here
        if str(user.id) not in (summary.participants or {}):
            continue
        shares = {k: v for k, v in (summary.participants or {}).items() if k != str(user.id)}
        Summary.update(participants=shares).where(Summary.id == summary.id).execute()


def counters() -> dict[str, Any]:
    return {"chats": Chat.select().where(Chat.is_active).count(), "messages": Message.select().count(),
            "summaries": Summary.select().count(), "memories": UserMemory.select().count()}
