"""Create hello_greetings."""
from peewee import *

from framework import UtcDateTimeField


def up(migrator, db):
    class User(Model):  # frozen stub of the core table, for the foreign key only
        class Meta:
            database = db
            table_name = 'users'

    class Greeting(Model):
        user = ForeignKeyField(User, unique=True, on_delete='CASCADE')
        count = IntegerField(default=0)
        nickname = CharField(max_length=64, null=True)
        morning = BooleanField(default=False)
        last_morning = DateField(null=True)
        updated_at = UtcDateTimeField()
        class Meta:
            database = db
            table_name = 'hello_greetings'
    db.create_tables([Greeting])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('hello_greetings'))
