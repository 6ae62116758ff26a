"""The plugin's one table: how often each user was greeted, and how to call them."""
from __future__ import annotations

import peewee

from framework import BaseModel, User, UtcDateTimeField, utcnow


class Greeting(BaseModel):
    user = peewee.ForeignKeyField(User, unique=True, on_delete="CASCADE")
    count = peewee.IntegerField(default=0)
    nickname = peewee.CharField(max_length=64, null=True)
    morning = peewee.BooleanField(default=False)
    last_morning = peewee.DateField(null=True)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "hello_greetings"
