"""Loading plugins with pluggy: from the config by dotted path or by entry point,
in dependency order, each one isolated.

The :class:`PluginManager` is built by the application factory, never at
import time, so a process (a test run) can build one application after another.
"""
from __future__ import annotations

import collections
import datetime as dt
import difflib
import graphlib
import importlib
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .config import REQUIRED, ConfigError, coerce_setting
from .redaction import error_text

log = logging.getLogger("plugbot.plugins")

API_VERSION = "2.0"
ENTRY_POINT_GROUP = "plugbot.plugins"

# What a plugin written for an earlier major version must change, shown when it is refused,
# so its author learns what to do from the error rather than from a stack trace later.
CHANGES_SINCE = {
    1: ("text handlers now handle by default — return SKIP to pass; hooks get `plugin`; "
        "plugbot_before_update/after_update became register.middleware; buttons are typed CallbackData"),
}

# Built-in features, written as plugins of the same system (datasette's DEFAULT_PLUGINS).
BUILTIN_PLUGINS = (
    "framework.builtins.core",
    "framework.builtins.datarights",
    "framework.builtins.maintenance",
    "framework.builtins.metrics",
)

hookimpl = pluggy.HookimplMarker("plugbot")


@dataclass(frozen=True)
class PluginInfo:
    """Who a plugin is; returned by its ``plugbot_plugin_info`` hook."""

    name: str
    version: str = "0.0.0"
    description: str = ""
    depends_on: tuple[str, ...] = ()
    api_version: str = ">=2.0,<3.0"


@dataclass
class LoadedPlugin:
    """A plugin as the application sees it, with its runtime status."""

    name: str
    module: ModuleType | None
    info: PluginInfo | None
    builtin: bool = False
    status: str = "enabled"  # enabled | disabled | failed | paused | off (switched off: by an admin, or the config)
    # The config's ``enabled:``. False: loaded (imported, migrated, registered) but switched off
    # until an admin switches it on (``/plugin enable``): the admin's stored choice wins.
    config_enabled: bool = True
    error: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    models: list[Any] = field(default_factory=list)
    migrations: list[str] = field(default_factory=list)
    locales: list[str] = field(default_factory=list)
    paused_until: float | None = None
    handle: Any = None  # its framework.Plugin, made by the application once the services exist
    updates: int = 0    # updates its handlers ran on since start, and how many of them failed
    failed_updates: int = 0

    @property
    def active(self) -> bool:
        """Loaded and not failed: its data hooks (/mydata, /deleteme, retention) run even while it is
        paused or switched off, so a user's data is never left out of an export or a deletion."""
        return self.status in ("enabled", "paused", "off") and self.module is not None

    @property
    def source(self) -> str:
        """The module's file (a namespace package's folder), for load errors an operator can act on."""
        return module_source(self.module) if self.module is not None else self.name


def module_source(module: ModuleType) -> str:
    path = getattr(module, "__file__", None)
    if path:
        return path
    folders = list(getattr(module, "__path__", []))
    return folders[0] if folders else module.__name__


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def api_compatible(spec: str, version: str = API_VERSION) -> bool:
    """``">=1.0,<2.0"``-style ranges (comma = and) against the running plugbot API version."""
    current = version_tuple(version)
    ops: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
        ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
        ">": lambda a, b: a > b, "<": lambda a, b: a < b, "!=": lambda a, b: a != b,
    }
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = re.fullmatch(r"(>=|<=|==|!=|>|<)\s*([\d.]+)", clause)
        if match is None:
            raise ValueError(f"cannot read api_version clause {clause!r}")
        wanted = version_tuple(match.group(2))
        length = max(len(wanted), len(current))
        a = current + (0,) * (length - len(current))
        b = wanted + (0,) * (length - len(wanted))
        if not ops[match.group(1)](a, b):
            return False
    return True


def _admits_major(spec: str, major: int) -> bool:
    """Does ``spec`` accept some ``major.x`` (so the plugin was written for that major version)?"""
    return any(api_compatible(spec, f"{major}.{minor}") for minor in range(100))


def api_mismatch(name: str, spec: str) -> str:
    """The one line refusing a plugin written for another plugbot API, saying what to do."""
    written = f"plugins.{name}: written for plugbot API {spec}, this is {API_VERSION}"
    older = [major for major in sorted(CHANGES_SINCE) if _admits_major(spec, major)]
    if older:
        changes = "; ".join(CHANGES_SINCE[major] for major in older)
        return f'{written} ({changes}) — see docs/plugins.md "Changes for plugin authors"'
    return f"{written}; upgrade the plugin or plugbot"


class PluginManager:
    """pluggy's manager plus what plugbot needs: order, settings, status, per-plugin calls.

    Every hook is called through pluggy's record of its implementations
    (``get_hookimpls()``, ``impl.argnames``), one plugin at a time: an implementation
    gets the arguments it declares (a ``functools.wraps`` decorator keeps them),
    ``tryfirst``/``trylast`` move it in the order, and the core always knows which
    plugin it is calling, so one plugin's failure never stops the others.
    """

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.pm = pluggy.PluginManager("plugbot")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, LoadedPlugin] = {}
        self.order: list[str] = []
        self._breaker = CircuitBreaker(**config.get("circuit_breaker", {}))
        self._counts = threading.Lock()
        self._told_paused: dict[str, set[int]] = {}  # plugin → users told in a group that it is paused
        # plugin → the pause this process last wrote or adopted, by its end on the application's clock
        # (``plugin_state.paused_until``): the value that names one pause in every process.
        self._pause_marks: dict[str, dt.datetime] = {}
        self._adopted: set[str] = set()  # plugins paused here because another process paused them

    # -- loading ---------------------------------------------------------------
    def load(self) -> None:
        """Import, order and register every plugin; raise ConfigError for operator mistakes."""
        errors: list[str] = []
        strict = bool(self.config.get("strict_plugins"))
        for dotted in BUILTIN_PLUGINS:
            self._add(importlib.import_module(dotted))
        candidates: dict[str, LoadedPlugin] = {}
        for name, section in self.config.get("plugins", {}).items():
            if name in self.plugins:
                errors.append(f"plugins.{name}: the name {name!r} is taken by a built-in plugin")
                continue
            if not section.get("enabled", True):
                # Loaded but off, so an admin can switch it on without a restart. What would stop
                # an enabled plugin only keeps this one out: the operator did not ask for it.
                problems: list[str] = []
                loaded = self._import(name, section, problems, strict=True)
                if loaded is None:
                    self._keep_out(name, problems)
                else:
                    loaded.config_enabled = False
                    candidates[name] = loaded
                continue
            loaded = self._import(name, section, errors, strict)
            if loaded is not None:
                candidates[name] = loaded
        self._drop_unservable_defaults_off(candidates)
        order = self._dependency_order(candidates, errors)
        for name in order:
            loaded = candidates[name]
            problems = errors if loaded.config_enabled else []
            if not self._register(loaded, problems):
                if not loaded.config_enabled:
                    self._keep_out(name, problems)
                continue
            self.plugins[name] = loaded
            self.order.append(name)
            self._settings_for(loaded, self.config["plugins"].get(name, {}), problems)
            if not loaded.config_enabled:
                if problems:
                    self.pm.unregister(loaded.module)
                    self.order.remove(name)
                    self._keep_out(name, problems)
                else:
                    loaded.status = "off"
        errors.extend(self._unknown_hooks())
        if errors:
            raise ConfigError(errors)
        self.pm.check_pending()  # everything it could object to was reported above, file by file

    def _keep_out(self, name: str, problems: list[str]) -> None:
        """A plugin the config disables that could not be loaded: left out, as before it was loaded
        at all, with the reason logged (switching it on needs the config fixed and a restart)."""
        error = "; ".join(problems) or "could not be loaded"
        log.warning("plugin %s (enabled: false) left out: %s", name, error)
        self.plugins[name] = LoadedPlugin(name, None, None, status="disabled", error=error)

    def _drop_unservable_defaults_off(self, candidates: dict[str, LoadedPlugin]) -> None:
        """Leave out each config-disabled candidate whose dependency is not loaded; an enabled plugin
        needing a config-disabled one stays an error (see ``_dependency_order``)."""
        while True:
            missing = {name: dep for name, loaded in candidates.items() if not loaded.config_enabled
                       for dep in (loaded.info.depends_on if loaded.info else ())
                       if dep not in candidates and not self.plugins.get(dep, LoadedPlugin(dep, None, None)).builtin}
            if not missing:
                return
            for name, dep in missing.items():
                candidates.pop(name)
                self._keep_out(name, [f"plugins.{name}.depends_on: needs {dep!r}, which is not loaded"])

    def config_default(self, name: str) -> bool:
        """Is ``name`` on when no admin has chosen: the config's ``enabled:`` (True for a built-in)."""
        loaded = self.plugins.get(name)
        return loaded is None or loaded.config_enabled

    def _add(self, module: ModuleType) -> None:
        info = module.plugbot_plugin_info()
        loaded = LoadedPlugin(info.name, module, info, builtin=True)
        errors: list[str] = []
        if not self._register(loaded, errors):
            raise ConfigError(errors)
        self.plugins[info.name] = loaded
        self.order.append(info.name)

    def _register(self, loaded: LoadedPlugin, errors: list[str]) -> bool:
        """Hand the plugin's module to pluggy; False (with the reason in ``errors``) if it cannot serve."""
        where = f"plugins.{loaded.name}: {loaded.source}"
        problems = self._hookimpl_problems(loaded)
        if problems:
            errors.extend(f"{where}: {problem}" for problem in problems)
            return False
        try:
            self.pm.register(loaded.module, name=loaded.name)
        except ValueError:  # pluggy refuses one module under two names
            other = self.pm.get_name(loaded.module)
            errors.append(f"{where} is already loaded as plugin {other!r}; one module serves one plugin")
            return False
        except pluggy.PluginValidationError as exc:
            errors.append(f"{where}: {' '.join(str(exc).split())}")
            return False
        if not self.pm.get_hookcallers(loaded.module):
            self.pm.unregister(loaded.module)
            errors.append(f"{where} defines no plugbot hook: wrong module path or a folder shadowing the package?")
            return False
        return True

    def _hookimpl_problems(self, loaded: LoadedPlugin) -> list[str]:
        """What pluggy would accept but plugbot cannot call: a hook function without ``@hookimpl``
        (it would never run), a wrapper, an argument the hook does not pass."""
        problems = []
        module = loaded.module
        for attr in sorted(vars(module)):
            value = getattr(module, attr)
            if not attr.startswith("plugbot_") or not callable(value):
                continue
            opts = self.pm.parse_hookimpl_opts(module, attr)
            if opts is None:
                if getattr(value, "__module__", None) == module.__name__:
                    problems.append(f"{attr} is not decorated with @hookimpl, so it would never be called")
                continue
            if opts.get("wrapper") or opts.get("hookwrapper"):
                problems.append(f"{attr}: plugbot calls hooks plugin by plugin; wrapper implementations "
                                "are not supported")
                continue
            caller = getattr(self.pm.hook, opts.get("specname") or attr, None)
            if caller is None or caller.spec is None:
                continue  # a misspelt hook: reported by _unknown_hooks with a suggestion
            impl = pluggy.HookImpl(module, loaded.name, value, opts)
            given = caller.spec.argnames
            extra = [arg for arg in impl.argnames if arg not in given]
            if extra:
                problems.append(f"{attr}({', '.join(impl.argnames)}): the hook passes "
                                f"{', '.join(given) or 'no arguments'}, not {', '.join(extra)}")
        return problems

    def _unknown_hooks(self) -> list[str]:
        """A ``@hookimpl`` whose name is no hook (``plugbot_register_handler``): it would never run."""
        known = [name for name in dir(hookspecs) if name.startswith("plugbot_")]
        problems = []
        for hook_name, caller in sorted(vars(self.pm.hook).items()):
            if hook_name.startswith("_") or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.optionalhook:
                    continue
                close = difflib.get_close_matches(hook_name, known, n=1)
                hint = f"did you mean {close[0]}?" if close else "docs/plugin_hooks.md lists the hooks"
                problems.append(f"plugins.{impl.plugin_name}: {self.plugins[impl.plugin_name].source}: "
                                f"unknown hook {hook_name} ({hint})")
        return problems

    def _import(self, name: str, section: dict[str, Any], errors: list[str], strict: bool) -> LoadedPlugin | None:
        dotted = section.get("module")
        try:
            module = self._resolve_module(name, dotted)
        except ModuleNotFoundError as exc:
            errors.append(f"plugins.{name}: cannot import {dotted or name!r} ({exc})")
            return None
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the bot
            message = f"import failed: {exc.__class__.__name__}: {exc}"
            if strict:
                errors.append(f"plugins.{name}: {message}")
                return None
            log.error("plugin %s skipped: %s\n%s", name, message, traceback.format_exc())
            self.plugins[name] = LoadedPlugin(name, None, None, status="failed", error=message)
            return None
        where = f"plugins.{name}: {module_source(module)}"
        info_fn = getattr(module, "plugbot_plugin_info", None)
        try:
            info = info_fn() if info_fn else PluginInfo(name=name)
        except Exception as exc:  # noqa: BLE001 - the plugin's own code: reported, not a traceback
            errors.append(f"{where}: plugbot_plugin_info raised {error_text(exc)}")
            return None
        if not isinstance(info, PluginInfo):
            errors.append(f"{where}: plugbot_plugin_info must return a framework.PluginInfo, "
                          f"got {type(info).__name__}")
            return None
        if not isinstance(info.api_version, str):
            errors.append(f"{where}: api_version must be a version range string like '>=2.0,<3.0', "
                          f"got {info.api_version!r}")
            return None
        if info.name != name:
            info = PluginInfo(name, info.version, info.description, tuple(info.depends_on), info.api_version)
        try:
            compatible = api_compatible(info.api_version)
        except ValueError as exc:
            errors.append(f"plugins.{name}: {exc}")
            return None
        if not compatible:
            errors.append(api_mismatch(name, info.api_version))
            return None
        return LoadedPlugin(name, module, info)

    @staticmethod
    def _resolve_module(name: str, dotted: str | None) -> ModuleType:
        if dotted:
            return importlib.import_module(dotted)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == name:
                return ep.load()
        return importlib.import_module(f"plugins.{name}")

    def _dependency_order(self, candidates: dict[str, LoadedPlugin], errors: list[str]) -> list[str]:
        graph: dict[str, set[str]] = {}
        for name, loaded in candidates.items():
            deps = set(loaded.info.depends_on if loaded.info else ())
            for dep in sorted(deps):
                if dep in candidates and (candidates[dep].config_enabled or not loaded.config_enabled):
                    continue
                if self.plugins.get(dep, LoadedPlugin(dep, None, None)).builtin:
                    continue
                state = self.plugins.get(dep)
                # An enabled plugin cannot need one the config switches off: an admin could not
                # switch the dependency off without breaking it.
                disabled = (dep in candidates) or (state is not None and state.status == "disabled")
                why = "is disabled" if disabled else (
                    "failed to load" if state and state.status == "failed" else "is not configured")
                errors.append(f"plugins.{name}.depends_on: {name!r} needs {dep!r}, which {why}")
            graph[name] = {d for d in deps if d in candidates}
        try:
            return list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            errors.append(f"plugins: dependency cycle {' → '.join(exc.args[1])}")
            return []

    def _settings_for(self, loaded: LoadedPlugin, section: dict[str, Any], errors: list[str]) -> None:
        try:
            defaults = dict(self.call_one(loaded, "plugbot_config_defaults") or {})
        except Exception as exc:  # noqa: BLE001 - the plugin's own code: reported, not a traceback
            errors.append(f"plugins.{loaded.name}: {loaded.source}: plugbot_config_defaults raised {error_text(exc)}")
            return
        given = {k: v for k, v in section.items() if k not in ("enabled", "module")}
        settings: dict[str, Any] = {}
        for key, value in given.items():
            if key not in defaults:
                errors.append(f"plugins.{loaded.name}.{key}: unknown setting")
                continue
            settings[key] = coerce_setting(value, defaults[key], f"plugins.{loaded.name}.{key}", errors)
        for key, default in defaults.items():
            if default is REQUIRED and settings.get(key) in (None, ""):
                settings.pop(key, None)  # `key: ${VAR:-}` with VAR unset gives nothing, not a value
            if key not in settings:
                if default is REQUIRED:
                    errors.append(f"plugins.{loaded.name}.{key}: required setting missing")
                settings[key] = default
        try:
            problems = [f"plugins.{loaded.name}.{problem}"
                        for problem in self.call_one(loaded, "plugbot_validate_config", settings=settings) or []]
        except Exception as exc:  # noqa: BLE001
            problems = [f"plugins.{loaded.name}: {loaded.source}: plugbot_validate_config raised {error_text(exc)}"]
        errors.extend(problems)
        loaded.settings = settings

    # -- calling -----------------------------------------------------------------
    def impls(self, hook: str) -> list[tuple[str, pluggy.HookImpl]]:
        """(plugin name, hookimpl) of the active plugins in call order: dependencies before
        dependants, ``tryfirst`` implementations moved to the front and ``trylast`` ones to the back."""
        by_plugin = {impl.plugin_name: impl for impl in getattr(self.pm.hook, hook).get_hookimpls()}
        ordered = [(name, by_plugin[name]) for name in self.order
                   if name in by_plugin and self.plugins[name].active]
        return sorted(ordered, key=lambda pair: 0 if pair[1].tryfirst else 2 if pair[1].trylast else 1)

    def call_one(self, plugin: str | LoadedPlugin, hook: str, **kwargs: Any) -> Any:
        """Call one plugin's implementation of ``hook`` (None if it has none)."""
        loaded = plugin if isinstance(plugin, LoadedPlugin) else self.plugins[plugin]
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin_name == loaded.name:
                return self.call_impl(impl, **kwargs)
        return None

    def call_each(self, hook: str, *, isolate: bool = True, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` plugin by plugin; with ``isolate`` a raising plugin is logged and skipped."""
        results = []
        for name, impl in self.impls(hook):
            try:
                results.append((name, self.call_impl(impl, **kwargs)))
            except Exception as exc:
                if not isolate:
                    raise
                self.plugins[name].error = f"{hook}: {exc.__class__.__name__}: {exc}"
                log.exception("plugin %s failed in %s", name, hook, extra={"plugin": name})
        return results

    def call_impl(self, impl: pluggy.HookImpl, **kwargs: Any) -> Any:
        """Call one implementation with the arguments it declares; ``plugin`` is its own handle."""
        args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
        if "plugin" in impl.argnames and "plugin" not in kwargs:
            args["plugin"] = self.plugins[impl.plugin_name].handle
        return impl.function(**args)

    def count_update(self, name: str, failed: bool) -> None:
        """One more update handled by ``name`` (for the admin's /plugins)."""
        loaded = self.plugins.get(name)
        if loaded is None:
            return
        with self._counts:
            loaded.updates += 1
            loaded.failed_updates += failed

    def fail(self, name: str, error: str) -> None:
        """Mark a plugin failed at startup: it keeps nothing registered that could run."""
        loaded = self.plugins[name]
        loaded.status, loaded.error = "failed", error
        if name in self.order:
            self.order.remove(name)

    # -- runtime switches --------------------------------------------------------
    def is_off(self, name: str) -> bool:
        """Did an admin switch ``name`` off at runtime (see :meth:`switch`)?"""
        loaded = self.plugins.get(name)
        return loaded is not None and loaded.status == "off"

    def serving(self, name: str) -> bool:
        """May ``name``'s handlers run now: neither switched off nor paused by the circuit breaker?"""
        return not self.is_off(name) and not self.is_paused(name)

    def switchable(self, name: str) -> bool:
        """Can an admin switch ``name`` at runtime: a plugin the config loaded, not a built-in?"""
        loaded = self.plugins.get(name)
        return loaded is not None and not loaded.builtin and loaded.module is not None and loaded.status in (
            "enabled", "paused", "off")

    def switch(self, name: str, enabled: bool) -> bool:
        """Switch a loaded plugin on or off in this process; True if its status changed."""
        if not self.switchable(name):
            return False
        loaded = self.plugins[name]
        if enabled and loaded.status == "off":
            loaded.status, loaded.paused_until = "enabled", None
            self._breaker.reset(name)
            return True
        if not enabled and loaded.status != "off":
            loaded.status, loaded.paused_until = "off", None
            return True
        return False

    # -- circuit breaker ---------------------------------------------------------
    def is_paused(self, name: str) -> bool:
        loaded = self.plugins.get(name)
        if loaded is None or loaded.status != "paused":
            return False
        if loaded.paused_until is not None and time.monotonic() >= loaded.paused_until:
            with self._counts:  # one thread lifts the pause and tells about it
                lifted = loaded.status == "paused"
                if lifted:
                    loaded.status, loaded.paused_until = "enabled", None
            if lifted:
                self._breaker.reset(name)
                self._told_paused.pop(name, None)
                log.warning("plugin %s resumed after its pause", name, extra={"plugin": name})
                if name in self._adopted:
                    self._adopted.discard(name)  # the process that paused it tells the admins, once
                else:
                    self.status_changed(name, "enabled")
            return False
        return True

    def status_changed(self, name: str, status: str, error: str | None = None) -> bool:
        """Tell the ``plugbot_plugin_status`` implementations; False when there is none to tell."""
        told = False
        for plugin, impl in self.impls("plugbot_plugin_status"):
            if self.is_off(plugin):
                continue  # a plugin switched off tells nobody anything
            try:
                self.call_impl(impl, name=name, status=status, error=error)
                told = True
            except Exception:  # noqa: BLE001 - telling admins must not break the update that failed
                log.exception("plugin %s failed in plugbot_plugin_status", plugin, extra={"plugin": plugin})
        return told

    def first_paused_notice(self, name: str, user: int) -> bool:
        """True the first time in a pause of ``name`` that ``user`` is told about it (in a group,
        where most messages are not for the plugin, once per pause is enough)."""
        with self._counts:
            told = self._told_paused.setdefault(name, set())
            if user in told:
                return False
            told.add(user)
            return True

    def holds_off(self, name: str, user: int) -> bool:
        """Is ``user`` held off plugin ``name`` for now, their own updates having kept failing in it?"""
        return self._breaker.holds_off(name, user)

    def record_failure(self, name: str, error: str, user: int | None = None) -> Failure:
        """Count a handler failure of ``user``'s update: did it pause the plugin for everyone, or
        (their own updates having kept failing in it) hold this one user off it for a while?"""
        loaded = self.plugins.get(name)
        if loaded is None or loaded.builtin:
            return Failure()
        loaded.error = error
        if loaded.status != "enabled":
            return Failure()
        held = self._breaker.user_failed(name, user) if user is not None else False
        if self._breaker.trip(name, user):
            loaded.status = "paused"
            loaded.paused_until = time.monotonic() + self._breaker.pause_seconds
            self._pause_marks.pop(name, None)  # a new pause: named when it is saved (shared_pause)
            self._adopted.discard(name)
            log.error("plugin %s paused by the circuit breaker: %s", name, error, extra={"plugin": name})
            return Failure(paused=True)
        if held:
            log.warning("user %s held off plugin %s for %ss: their updates keep failing in it", user, name,
                        self._breaker.user_pause_seconds, extra={"plugin": name})
        return Failure(held=held, seconds=self._breaker.user_pause_seconds if held else 0)

    def resume(self, name: str, *, tell: bool = True) -> None:
        """End a pause of ``name`` now; ``tell``: the ``plugbot_plugin_status`` implementations hear of
        it (not when the resume was made, and told, in another process)."""
        loaded = self.plugins[name]
        if loaded.status == "paused":
            loaded.status, loaded.paused_until = "enabled", None
            self._breaker.reset(name)
            self._adopted.discard(name)
            if tell:
                self.status_changed(name, "enabled")
            self._told_paused.pop(name, None)


    # -- the pause shared by every process (plugin_state.paused_until) -------------------
    def shared_pause(self, name: str, now: dt.datetime) -> dt.datetime | None:
        """When the pause of ``name`` ends on the clock ``now`` is read from, to be saved for the
        other processes; None when it is not paused. The same pause keeps the same end, so
        a process tells its own pause from a new one by this value."""
        loaded = self.plugins.get(name)
        if loaded is None or loaded.status != "paused" or loaded.paused_until is None:
            return None
        with self._counts:
            mark = self._pause_marks.get(name)
            if mark is None:
                left = max(0.0, loaded.paused_until - time.monotonic())
                mark = self._pause_marks[name] = now + dt.timedelta(seconds=round(left, 3))
            return mark

    def lifted_pause(self, name: str) -> dt.datetime | None:
        """The saved end of the last pause of ``name`` this process knew (ended or not)."""
        return self._pause_marks.get(name)

    def adopt_pauses(self, saved: dict[str, dt.datetime | None], now: dt.datetime) -> None:
        """Follow the pauses other processes saved (``{plugin: paused_until}``, ``now`` on the same
        clock): a pause this process has not seen begins here too, and one that was cleared (an
        admin resumed the plugin) ends here. A pause this process made and has not saved yet is
        left alone, and a pause it has already seen end is not taken up again."""
        for name, until in saved.items():
            loaded = self.plugins.get(name)
            if loaded is None or loaded.builtin or loaded.module is None:
                continue
            with self._counts:
                mark = self._pause_marks.get(name)
                if loaded.status == "paused":
                    if mark is None or until == mark:
                        continue  # ours, not saved yet; or the one already in force
                    if until is None:
                        resumed = True
                    else:
                        resumed = False
                        if until > now:  # a later pause saved by another process: it lasts longer
                            self._pause_marks[name] = until
                            loaded.paused_until = time.monotonic() + (until - now).total_seconds()
                        continue
                elif loaded.status == "enabled" and until is not None and until > now and until != mark:
                    loaded.status = "paused"
                    loaded.paused_until = time.monotonic() + (until - now).total_seconds()
                    self._pause_marks[name] = until
                    self._adopted.add(name)
                    self._told_paused.pop(name, None)
                    log.error("plugin %s paused by the circuit breaker of another process", name,
                              extra={"plugin": name})
                    continue
                else:
                    continue
            if resumed:
                log.warning("plugin %s resumed by an admin in another process", name, extra={"plugin": name})
                self.resume(name, tell=False)


@dataclass(frozen=True)
class Failure:
    """What one handler failure led to (see :meth:`PluginManager.record_failure`)."""

    paused: bool = False  # the plugin is paused for everyone
    held: bool = False    # this user is held off the plugin for ``seconds``
    seconds: int = 0


class CircuitBreaker:
    """Pause a plugin whose handlers fail for several users; hold off a user whose own updates keep failing.

    A failing dependency (a table gone, an API down) fails everyone's updates; an input that
    crashes a handler fails only the updates of the one user who keeps sending it. So the plugin
    is paused for everyone only when the failures within the window come from ``users`` distinct
    users, and a user with ``user_errors`` failures of their own within the window is held off that
    plugin alone for ``user_pause_seconds`` (a failure after that holds them off again at once).
    """

    def __init__(self, users: int = 3, window_seconds: int = 300, pause_seconds: int = 600,
                 user_errors: int = 3, user_pause_seconds: int = 60,
                 clock: Callable[[], float] | None = None):
        self.users = users
        self.window = window_seconds
        self.pause_seconds = pause_seconds
        self.user_errors = user_errors
        self.user_pause_seconds = user_pause_seconds
        self._clock = clock or time.monotonic  # looked up now: the pause check reads the same clock
        # plugin → (time, user) of each failure in the window; user None: a failure of no one's update
        self._events: dict[str, collections.deque[tuple[float, int | None]]] = collections.defaultdict(
            collections.deque)
        self._held: dict[tuple[str, int], float] = {}  # (plugin, user) → until
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> collections.deque[tuple[float, int | None]]:
        events = self._events[name]
        while events and events[0][0] < now - self.window:
            events.popleft()
        return events

    def trip(self, name: str, user: int | None = None) -> bool:
        """Count a failure; True when the window now holds failures of ``users`` distinct users."""
        now = self._clock()
        with self._lock:
            events = self._recent(name, now)
            events.append((now, user))
            users = {who for _, who in events if who is not None}
            return len(users) + sum(1 for _, who in events if who is None) >= self.users

    def user_failed(self, name: str, user: int) -> bool:
        """Count ``user``'s failure (before :meth:`trip` adds it); True when it holds them off ``name``."""
        now = self._clock()
        with self._lock:
            own = sum(1 for _, who in self._recent(name, now) if who == user) + 1
            if own < self.user_errors:
                return False
            if len(self._held) > 10_000:  # a bound for a flood of distinct users: drop those already let go
                self._held = {key: until for key, until in self._held.items() if until > now}
            self._held[(name, user)] = now + self.user_pause_seconds
            return True

    def holds_off(self, name: str, user: int) -> bool:
        until = self._held.get((name, user))
        if until is None:
            return False
        if self._clock() < until:
            return True
        with self._lock:
            self._held.pop((name, user), None)
        return False

    def reset(self, name: str) -> None:
        with self._lock:
            self._events.pop(name, None)
