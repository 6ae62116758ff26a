"""plugbot: a synchronous, plugin-based Telegram bot framework.

This module is the whole public API for plugin authors. A plugin is a
module with ``@hookimpl`` functions named after the hooks in
:mod:`framework.hookspecs`; see ``docs/plugins.md`` and ``examples/hello/``.
"""
from .app import Application, create_app
from .config import REQUIRED, ConfigError, load_config
from .context import Button, Context, JobContext
from .conversations import Conversation, InvalidTransition
from .db import BaseModel, JSONField, UtcDateTimeField, connection_scope, database, utcnow
from .models import User, UserSettings
from .plugins import API_VERSION, PluginInfo, hookimpl
from .redisconn import ServiceUnavailable

__version__ = "0.1.0"

__all__ = [
    "API_VERSION", "Application", "BaseModel", "Button", "ConfigError", "Context", "Conversation",
    "InvalidTransition", "JSONField", "JobContext", "PluginInfo", "REQUIRED", "ServiceUnavailable", "User", "UserSettings",
    "UtcDateTimeField", "connection_scope", "create_app", "database", "hookimpl", "load_config", "utcnow",
]
