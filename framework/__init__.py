"""plugbot: a synchronous, plugin-based Telegram bot framework.

This module is the whole public API for plugin authors. A plugin is a
module with ``@hookimpl`` functions named after the hooks in
:mod:`framework.hookspecs`; see ``docs/plugins.md`` and ``examples/hello/``.

Hooks that run outside an update receive ``plugin``, the plugin's
:class:`Plugin` handle (its runtime name, settings, cache, texts, logger and
the services). A plugin never builds the services itself: it reaches the application's
instances through ``plugin``, ``ctx`` or ``job`` (``cache``, ``users``, ``access``, ``audit``,
``ratelimiter``, ``scheduler``, ``i18n``, ``llm``; ``ctx.session``, ``ctx.can``). Their classes
are exported here for type hints and for their documented methods (``docs/services.md``).
"""
from .access import AccessControl
from .app import Application, ApplicationLiveError, create_app
from .arguments import Arg, BadArgument, arg
from .audit import AuditService
from .backup import BackupError, RestoreResult
from .backup import backup as backup_database
from .backup import restore as restore_database
from .cache import Cache
from .callbacks import CallbackData
from .config import REQUIRED, ConfigError, load_config
from .context import Button, Context, JobContext, SentMessage
from .conversations import Conversation, InvalidTransition
from .db import BaseModel, JSONField, UtcDateTimeField, connection_scope, database, locked, utcnow
from .handling import SKIP, Skip
from .i18n import Translator
from .llm import LLMResult, LLMService
from .models import User, UserSettings
from .plugin import Plugin
from .plugins import API_VERSION, PluginInfo, hookimpl
from .ratelimit import RateDecision, RateLimiter
from .redisconn import ServiceUnavailable
from .runtime import RuntimeSettings, mask_secret, mask_secrets
from .scheduler import JobStats, Scheduler
from .sender import SendError
from .sessions import Session, SessionStore
from .users import UserService

__version__ = "0.1.0"

__all__ = [
    "API_VERSION", "SKIP", "AccessControl", "Application", "ApplicationLiveError", "Arg", "AuditService", "BackupError",
    "BadArgument", "BaseModel", "Button",
    "Cache", "CallbackData", "ConfigError", "Context", "Conversation", "InvalidTransition", "JSONField", "JobContext",
    "JobStats", "LLMResult", "LLMService", "Plugin", "PluginInfo", "REQUIRED", "RateDecision", "RateLimiter",
    "RestoreResult", "RuntimeSettings", "Scheduler", "SendError", "SentMessage", "ServiceUnavailable", "Session", "SessionStore", "Skip",
    "Translator", "User", "UserService", "UserSettings", "UtcDateTimeField", "arg", "backup_database",
    "connection_scope", "create_app", "database", "hookimpl", "load_config", "locked", "mask_secret", "mask_secrets",
    "restore_database", "utcnow",
]
