"""Runtime switches: a plugin an admin turned on or off, and when the consent text last changed.

``plugin_state.enabled`` is the admin's choice over the config default (NULL: the config
decides); ``app_settings.consent_updated_at`` lets a new consent text ask every user again;
``app_settings.access_mode`` is the admins' ``open``/``whitelist`` over the config's.
Kept in the database so every running process, and the next start, follows the choice.
"""
from peewee import *

from framework.db import UtcDateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column('plugin_state', 'enabled', BooleanField(null=True)),
        migrator.add_column('plugin_state', 'changed_by', BigIntegerField(null=True)),
        migrator.add_column('app_settings', 'consent_updated_at', UtcDateTimeField(null=True)),
        migrator.add_column('app_settings', 'access_mode', CharField(max_length=20, null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column('plugin_state', 'enabled'),
        migrator.drop_column('plugin_state', 'changed_by'),
        migrator.drop_column('app_settings', 'consent_updated_at'),
        migrator.drop_column('app_settings', 'access_mode'),
    )
