"""Translations: one YAML catalog per owner (the core or a plugin), per language.

Each owner ships a folder of ``{lang}.yaml`` files. Nested mappings are
flattened to dotted keys (``cancel: {done: ...}`` becomes ``cancel.done``) so
catalogs stay readable while lookups stay flat. Owners never share keys: a
plugin's ``help.header`` cannot shadow the core's.

A lookup never fails in front of a user. It falls back from the exact
language to its base language, then to English, then to the key itself, and
a placeholder the caller forgot to pass stays visible as ``{name}`` instead
of raising. Both kinds of gap are logged so they get fixed, and
:meth:`Translator.missing_keys` finds them before a user does.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"
CORE_OWNER = "core"
CORE_LOCALES = Path(__file__).resolve().parent / "locales"

# Languages whose plural rules follow Russian (CLDR one/few/many).
_EAST_SLAVIC = frozenset({"ru", "uk", "be"})
_FORM_ORDER = {"slavic": ("one", "few", "many"), "default": ("one", "other")}


def normalize_language(lang: str | None) -> str:
    """``'ru_RU'``, ``'RU-ru'`` and ``'ru-RU'`` all name the same catalog: ``'ru-ru'``."""
    if not lang:
        return DEFAULT_LANGUAGE
    return lang.strip().replace("_", "-").lower() or DEFAULT_LANGUAGE


def base_language(lang: str) -> str:
    """``'ru-ru'`` → ``'ru'``: Telegram reports regional codes, catalogs are usually per language."""
    return normalize_language(lang).split("-", 1)[0]


def flatten(tree: Mapping[str, Any], *, prefix: str = "", source: str = "") -> dict[str, str]:
    """Turn nested mappings into dotted keys; leaves must be scalars.

    Lists are rejected because a translator would have no way to know how the
    code joins them; use a YAML block scalar (``|``) for multi-line text.
    """
    flat: dict[str, str] = {}
    for raw_key, value in tree.items():
        key = f"{prefix}{raw_key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{key}.", source=source))
        elif isinstance(value, (list, tuple)):
            raise ValueError(f"{source}: {key}: lists are not supported, use a block scalar or sub-keys")
        elif value is None:
            raise ValueError(f"{source}: {key}: empty value")
        else:
            flat[key] = str(value)
    return flat


def load_catalog_file(path: Path) -> dict[str, str]:
    """Read one ``{lang}.yaml`` file into a flat ``key -> text`` mapping."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: the top level must be a mapping of keys to texts")
    return flatten(data, source=str(path))


class _Placeholder:
    """Stands in for a value the caller did not pass, and renders as the placeholder itself."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + (":" + spec if spec else "") + "}"

    def __getattr__(self, attr: str) -> _Placeholder:
        return _Placeholder(f"{self.name}.{attr}")

    def __getitem__(self, item: Any) -> _Placeholder:
        return _Placeholder(f"{self.name}[{item}]")


class _SafeValues(dict):
    def __missing__(self, key: str) -> _Placeholder:
        return _Placeholder(key)


def safe_format(template: str, values: Mapping[str, Any]) -> str:
    """``str.format_map`` that leaves unknown placeholders visible instead of raising.

    A broken template (a stray ``{`` in a translation) is returned unformatted
    with a warning: showing slightly wrong text beats failing the whole reply.
    """
    try:
        return template.format_map(_SafeValues(values))
    except (ValueError, IndexError, TypeError, AttributeError) as exc:
        log.warning("cannot format translation %r: %s", template, exc)
        return template


def plural_category(n: float, lang: str) -> str:
    """The CLDR plural category of ``n``: ``one``/``few``/``many`` for Russian-like
    languages, ``one``/``other`` for everything else."""
    slavic = base_language(lang) in _EAST_SLAVIC
    if isinstance(n, float) and not n.is_integer():
        return "other"
    n = abs(int(n))
    if not slavic:
        return "one" if n == 1 else "other"
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


def plural_forms(lang: str) -> tuple[str, ...]:
    """The plural sub-keys a catalog in ``lang`` needs for every plural key:
    ``one``/``few``/``many`` for Russian-like languages, ``one``/``other`` otherwise."""
    return ("one", "few", "many") if base_language(normalize_language(lang)) in _EAST_SLAVIC else ("one", "other")


def _plural_form(key: str) -> bool:
    return "." in key and key.rsplit(".", 1)[1] in PLURAL_CATEGORIES


def plural(n: float, lang: str, forms: Mapping[str, str] | Sequence[str]) -> str:
    """Pick the form of a word for ``n``.

    ``forms`` is either a mapping by category (``{"one": "day", "other":
    "days"}``) or a sequence in the language's natural order: ``(one, other)``
    for English, ``(one, few, many)`` for Russian (``("день", "дня", "дней")``).
    A missing category falls back to ``other``, then ``many``, ``few``, ``one``
    (for Russian fractions, ``other`` reads like ``few``: "1,5 дня").
    """
    if not isinstance(forms, Mapping):
        order = _FORM_ORDER["slavic" if base_language(lang) in _EAST_SLAVIC else "default"]
        forms = dict(zip(order, forms, strict=False))
    if not forms:
        raise ValueError("plural() needs at least one form")
    category = plural_category(n, lang)
    for candidate in (category, "other", "few", "many", "one"):
        if candidate in forms:
            return forms[candidate]
    return next(iter(forms.values()))


class Translator:
    """All catalogs of one application, looked up by owner, key and language."""

    def __init__(self, default_language: str = DEFAULT_LANGUAGE) -> None:
        self.default_language = normalize_language(default_language)
        self._catalogs: dict[str, dict[str, dict[str, str]]] = {}
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def add_catalog(self, owner: str, directory: str | Path) -> None:
        """Load every ``{lang}.yaml`` in ``directory`` as ``owner``'s catalog.

        Loading the same owner again replaces its catalog, so a plugin can be
        reloaded without restarting the process.
        """
        folder = Path(directory)
        if not folder.is_dir():
            raise FileNotFoundError(f"locale directory of {owner!r} not found: {folder}")
        catalog: dict[str, dict[str, str]] = {}
        for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            catalog[normalize_language(path.stem)] = load_catalog_file(path)
        if not catalog:
            raise FileNotFoundError(f"no {{lang}}.yaml files in the locale directory of {owner!r}: {folder}")
        with self._lock:
            self._catalogs[owner] = catalog
            self._warned = {item for item in self._warned if item[0] != owner}

    def add_core_catalog(self) -> None:
        """Load the framework's own texts (``framework/locales``) as owner ``'core'``."""
        self.add_catalog(CORE_OWNER, CORE_LOCALES)

    def owners(self) -> list[str]:
        return sorted(self._catalogs)

    def languages(self, owner: str | None = None) -> list[str]:
        """Languages with a catalog: of one owner, or of any owner when ``owner`` is None."""
        if owner is not None:
            return sorted(self._catalogs.get(owner, {}))
        return sorted({lang for catalog in self._catalogs.values() for lang in catalog})

    def lookup(self, owner: str, key: str, lang: str | None) -> str | None:
        """The raw template for ``key`` after language fallback, or None if no language has it."""
        catalog = self._catalogs.get(owner, {})
        for candidate in self._fallback_chain(lang):
            texts = catalog.get(candidate)
            if texts is not None and key in texts:
                return texts[key]
        return None

    def has(self, owner: str, key: str, lang: str | None = None) -> bool:
        return self.lookup(owner, key, lang) is not None

    def t(self, owner: str, key: str, lang: str | None, **kwargs: Any) -> str:
        """Translate ``key`` of ``owner`` into ``lang`` and fill its ``{placeholders}``.

        Never raises for missing texts: it falls back to the base language,
        then to English, then returns the key itself (logging a warning once).
        """
        template = self.lookup(owner, key, lang)
        if template is None:
            self._warn_missing(owner, key, lang)
            return key
        return safe_format(template, kwargs)

    def tn(self, owner: str, key: str, n: float, lang: str | None, **kwargs: Any) -> str:
        """Plural-aware :meth:`t`: ``key`` is a mapping of forms (``key.one``, ``key.few``...),
        and ``{n}`` is available to the chosen form."""
        lang = normalize_language(lang)
        forms: dict[str, str] = {}
        for category in ("one", "few", "many", "other"):
            text = self.lookup(owner, f"{key}.{category}", lang)
            if text is not None:
                forms[category] = text
        if not forms:
            self._warn_missing(owner, key, lang)
            return key
        return safe_format(plural(n, lang, forms), {"n": n, **kwargs})

    def missing_keys(self) -> dict[str, dict[str, list[str]]]:
        """Gaps between each owner's languages and its English catalog.

        ``result[owner][lang]`` lists the keys ``lang`` lacks: for a
        translation, keys English has and it does not; for ``'en'`` itself,
        keys some translation has that English does not (usually a renamed or
        mistyped key). Owners and languages without gaps are omitted.

        Plural keys (English has both ``x.one`` and ``x.other``) are compared by the
        forms each language needs: English
        ``days.one``/``days.other`` is matched in Russian by ``days.one``,
        ``days.few`` and ``days.many`` (``days.other``, for fractions, may be
        there too), so a complete Russian catalog reports nothing.
        """
        report: dict[str, dict[str, list[str]]] = {}
        for owner, catalog in sorted(self._catalogs.items()):
            reference = set(catalog.get(self.default_language, {}))
            plural_bases = {key[:-len(".one")] for key in reference
                            if key.endswith(".one") and key[:-len(".one")] + ".other" in reference}
            gaps: dict[str, list[str]] = {}
            extra_in_others: set[str] = set()
            for lang, texts in sorted(catalog.items()):
                if lang == self.default_language:
                    continue
                expected = {key for key in reference if not _plural_form(key) or
                            key.rsplit(".", 1)[0] not in plural_bases}
                expected |= {f"{base}.{form}" for base in plural_bases for form in plural_forms(lang)}
                missing = sorted(expected - set(texts))
                if missing:
                    gaps[lang] = missing
                extra_in_others |= {key for key in set(texts) - reference
                                    if not (_plural_form(key) and key.rsplit(".", 1)[0] in plural_bases)}
            if extra_in_others:
                gaps[self.default_language] = sorted(extra_in_others)
            if gaps:
                report[owner] = gaps
        return report

    def _fallback_chain(self, lang: str | None) -> list[str]:
        exact = normalize_language(lang)
        chain = [exact, base_language(exact), self.default_language]
        return list(dict.fromkeys(chain))

    def _warn_missing(self, owner: str, key: str, lang: str | None) -> None:
        with self._lock:
            if (owner, key) in self._warned:
                return
            self._warned.add((owner, key))
        log.warning("missing translation %s:%s (asked for %s, no fallback had it)", owner, key, lang)
