"""Categories: the seven system ones, user-made ones, and guessing a category from words.

Guessing has two layers. What this user chose before for a word
(``category_memory``) wins; otherwise an English/Russian keyword map decides.
English keywords match whole words and plurals; Russian keywords are stems that
match any ending of up to three letters, because Russian inflects nouns
("обед", "обеда", "обедом").

A user's active categories and learned words are read through a
:class:`CategoryBook`, which caches them per user and drops the copy on every
change, so a quick add in the steady state reads neither from the database.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import peewee

from framework import User, utcnow

from .models import Category, CategoryMemory

if TYPE_CHECKING:
    from framework import Context
    from framework.cache import Cache


@dataclass(frozen=True)
class SystemCategory:
    name: str
    emoji: str
    color: str
    sort_order: int


SYSTEM_CATEGORIES: tuple[SystemCategory, ...] = (
    SystemCategory("Food", "🍔", "#F4A261", 1),
    SystemCategory("Transport", "🚗", "#2A9D8F", 2),
    SystemCategory("Entertainment", "🎬", "#E76F51", 3),
    SystemCategory("Bills", "🏠", "#264653", 4),
    SystemCategory("Shopping", "🛍️", "#E9C46A", 5),
    SystemCategory("Health", "⚕️", "#8AB17D", 6),
    SystemCategory("Other", "📌", "#8D99AE", 7),
)
FALLBACK = "Other"

KEYWORDS_EN: dict[str, tuple[str, ...]] = {
    "Food": (
        "food", "coffee", "latte", "cappuccino", "espresso", "tea", "lunch", "dinner", "breakfast",
        "brunch", "snack", "pizza", "burger", "sushi", "restaurant", "cafe", "café", "bar", "beer",
        "wine", "groceries", "grocery", "supermarket", "bread", "milk", "meal", "takeaway", "takeout",
        "bakery", "sandwich", "donut", "icecream", "juice", "water",
    ),
    "Transport": (
        "taxi", "uber", "lyft", "bolt", "bus", "metro", "subway", "train", "tram", "ticket", "fuel",
        "gas", "petrol", "diesel", "parking", "toll", "flight", "airfare", "car", "transport",
        "scooter", "bike", "ferry",
    ),
    "Entertainment": (
        "cinema", "movie", "movies", "film", "theatre", "theater", "concert", "game", "games",
        "netflix", "spotify", "museum", "party", "club", "festival", "bowling", "karaoke",
        "books", "book",
    ),
    "Bills": (
        "rent", "electricity", "internet", "phone", "mobile", "utilities", "utility",
        "insurance", "mortgage", "bill", "bills", "subscription", "heating", "tax", "taxes",
    ),
    "Shopping": (
        "shopping", "clothes", "shoes", "shirt", "dress", "jeans", "laptop", "gift",
        "gifts", "amazon", "electronics", "furniture", "headphones", "cosmetics", "jacket",
    ),
    "Health": (
        "pharmacy", "medicine", "medicines", "doctor", "dentist", "hospital", "pills", "vitamins",
        "gym", "fitness", "therapy", "clinic", "drugstore", "massage", "yoga",
    ),
}

KEYWORDS_RU: dict[str, tuple[str, ...]] = {
    "Food": (
        "еда", "еду", "еды", "кофе", "капучино", "латте", "чай", "чая", "чаю", "обед", "ужин", "завтрак", "перекус",
        "пицц", "бургер", "суши", "ресторан", "кафе", "бар", "пив", "вино", "продукт", "магнит",
        "пятерочк", "хлеб", "молок", "столов", "шаурм", "булочк", "фрукт", "овощ",
    ),
    "Transport": (
        "такси", "автобус", "метро", "электричк", "поезд", "трамва", "троллейбус", "билет",
        "бензин", "топлив", "парковк", "самолет", "маршрутк", "каршеринг", "самокат", "проезд",
    ),
    "Entertainment": (
        "кино", "кинотеатр", "фильм", "театр", "концерт", "игр", "музе", "вечеринк", "клуб", "боулинг",
        "караоке", "книг", "развлечен",
    ),
    "Bills": (
        "аренд", "квартплат", "коммуналк", "электричеств", "интернет", "телефон", "связь",
        "страховк", "ипотек", "счет", "подписк", "налог", "жкх",
    ),
    "Shopping": (
        "покупк", "одежд", "обув", "куртк", "джинс", "ноутбук", "подарок", "подарк", "техник",
        "косметик", "мебел", "наушник", "озон", "вайлдберриз",
    ),
    "Health": (
        "аптек", "лекарств", "врач", "стоматолог", "больниц", "таблетк", "витамин", "спортзал",
        "фитнес", "клиник", "анализ", "массаж", "йога", "йогу",
    ),
}

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_STOPWORDS = frozenset({
    "a", "an", "the", "for", "on", "at", "in", "of", "to", "and", "with", "my", "from",
    "за", "на", "в", "во", "и", "с", "со", "для", "по", "от", "к", "у",
})
MAX_LEARNED_WORDS = 5


def normalize(word: str) -> str:
    """Lower-case and fold "ё" to "е" so spelling variants share a memory entry."""
    return word.lower().replace("ё", "е")


def words_of(text: str) -> list[str]:
    """The meaningful words of a note, normalised, stop-words and one-letter words removed."""
    words = (normalize(w) for w in _WORD.findall(text or ""))
    return [w for w in words if len(w) > 1 and w not in _STOPWORDS]


def _matches_en(word: str, keyword: str) -> bool:
    return word in (keyword, keyword + "s", keyword + "es")


def _matches_ru(word: str, stem: str) -> bool:
    return word.startswith(stem) and len(word) - len(stem) <= 3


def keyword_category(word: str) -> str | None:
    """The system category a single word points to, or None."""
    word = normalize(word)
    for name, keywords in KEYWORDS_EN.items():
        if any(_matches_en(word, k) for k in keywords):
            return name
    for name, stems in KEYWORDS_RU.items():
        if any(_matches_ru(word, s) for s in stems):
            return name
    return None


def is_keyword(word: str) -> bool:
    """True when ``word`` is in the built-in keyword map (used by the quick-add parser)."""
    return keyword_category(word) is not None


def guess_system_name(words: Iterable[str]) -> str | None:
    """The system category named by the first keyword among ``words``."""
    for word in words:
        name = keyword_category(word)
        if name:
            return name
    return None


# --------------------------------------------------------------------------
# Database reads without the cache (archived rows, the recurring job, the benchmark)
# --------------------------------------------------------------------------


def system_categories() -> dict[str, Category]:
    """The system category rows by name (seeded by the migration)."""
    rows = Category.select().where(Category.is_system == True, Category.user.is_null())  # noqa: E712
    return {c.name: c for c in rows}


def visible(user: User, include_archived: bool = False) -> list[Category]:
    """Categories ``user`` may file expenses under: system ones first, then their own."""
    query = Category.select().where(
        (Category.user.is_null() & (Category.is_system == True))  # noqa: E712
        | (Category.user == user.id)
    )
    if not include_archived:
        query = query.where(Category.is_active == True)  # noqa: E712
    return list(query.order_by(Category.is_system.desc(), Category.sort_order, Category.name))


def find_by_name(user: User, name: str, include_archived: bool = False) -> Category | None:
    """A visible category by name, case-insensitively."""
    return _named(visible(user, include_archived=include_archived), name)


def _named(categories: Iterable[Category], name: str) -> Category | None:
    wanted = normalize(name.strip())
    return next((c for c in categories if normalize(c.name) == wanted), None)


def _as_id(category_id: object) -> int | None:
    try:
        number = int(category_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None  # a forged id past BIGINT would make the driver raise


class CategoryError(ValueError):
    """A category change the user asked for is not allowed; ``code`` names the locale message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


MAX_NAME = 40
MAX_CUSTOM = 50


def _check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or not any(ch.isalnum() for ch in name):
        raise CategoryError("bad_name", max=MAX_NAME)
    return name


def _new(user: User, name: str, emoji: str | None) -> Category:
    count = Category.select().where(Category.user == user.id, Category.is_active == True).count()  # noqa: E712
    if count >= MAX_CUSTOM:
        raise CategoryError("too_many", max=MAX_CUSTOM)
    order = (Category.select(peewee.fn.MAX(Category.sort_order)).where(Category.user == user.id).scalar() or 100) + 1
    return Category.create(user=user.id, name=name, emoji=emoji or "🏷️", is_system=False, sort_order=order)


def _own(user: User, name: str) -> Category:
    category = find_by_name(user, name, include_archived=True)
    if category is None:
        raise CategoryError("not_found", name=name)
    if category.is_system:
        raise CategoryError("system", name=category.name)
    return category


# --------------------------------------------------------------------------
# One user's categories and learned words, cached
# --------------------------------------------------------------------------

CACHE_TTL = 600  # seconds; bounds how long an invalidation missed by another process can show
CACHE_PREFIX = "categories:v1:"  # bump the version when the cached shape changes
_SHOWN = ("id", "name", "emoji", "color", "sort_order", "is_system", "is_active")


def cache_key(user_id: int) -> str:
    return f"{CACHE_PREFIX}{user_id}"


def forget_user(cache: Cache, user_id: int) -> None:
    """Drop one user's cached categories (their data was erased: SQLite may reuse the id)."""
    cache.delete(cache_key(user_id))


def forget_everyone(cache: Cache) -> None:
    """Drop every user's cached categories (migrations may have changed the system ones)."""
    cache.invalidate(CACHE_PREFIX)


def _plain(category: Category) -> dict[str, Any]:
    return {**{name: getattr(category, name) for name in _SHOWN}, "user": category.user_id}


def _model(row: dict[str, Any]) -> Category:
    """An unsaved ``Category`` with the row's id: enough to show, compare and reference it, never to save."""
    category = Category(**{name: row[name] for name in _SHOWN}, user=row["user"])
    category._dirty.clear()
    return category


class CategoryBook:
    """One user's active categories and learned words: read once, cached per user.

    Quick add needs them three times (the parser's known words, the guess, the
    keyboard under the reply) and they change only through the methods below,
    through /deleteme and through migrations. So they are read in two queries,
    kept in the plugin cache for :data:`CACHE_TTL`, and every change drops the
    cached copy. Make one book per update: after a change it stops writing the
    cache, because it then reads this update's uncommitted rows, which a
    rollback would take back.
    """

    def __init__(self, cache: Cache, user: User,
                 after_commit: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.cache = cache
        self.user = user
        self._after_commit = after_commit
        self._loaded: tuple[list[Category], dict[str, int]] | None = None
        self._changed = False

    @classmethod
    def of(cls, ctx: Context) -> CategoryBook:
        """The book of the update's user: cached in the plugin cache, dropped again after commit."""
        return cls(ctx.cache, ctx.user, ctx.after_commit)

    # -- reads ----------------------------------------------------------------
    def visible(self) -> list[Category]:
        """Categories the user may file expenses under now: system ones first, then their own."""
        return list(self._load()[0])

    def get_visible(self, category_id: object) -> Category | None:
        """The category with ``category_id`` if this user may use it (never trust ids from buttons)."""
        number = _as_id(category_id)
        return next((c for c in self._load()[0] if c.id == number), None) if number else None

    def find_by_name(self, name: str) -> Category | None:
        """An active category by name, case-insensitively (a name typed in /add)."""
        return _named(self._load()[0], name)

    def learned_words(self) -> frozenset[str]:
        """Every word this user taught; the quick-add parser treats them like keywords."""
        return frozenset(self._load()[1])

    def guess(self, words: list[str], auto_categorize: bool = True) -> Category:
        """The category for a note: learned choice, then keyword, then "Other".

        With ``auto_categorize`` off only learned choices are used, so the user sees
        "Other" until they pick a category themselves. A word learned for a category
        archived since is skipped.
        """
        shown, learned = self._load()
        by_id = {c.id: c for c in shown}
        words = [normalize(w) for w in words]
        for word in words:
            if learned.get(word) in by_id:
                return by_id[learned[word]]
        system = {c.name: c for c in shown if c.is_system and c.user_id is None}
        name = guess_system_name(words) if auto_categorize else None
        return system[name or FALLBACK]

    # -- changes (each drops the cached copy) -----------------------------------
    def create(self, name: str, emoji: str | None) -> Category:
        """Add a custom category, or bring an archived one with that name back."""
        name = _check_name(name)
        existing = find_by_name(self.user, name, include_archived=True)
        if existing is None:
            category = _new(self.user, name, emoji)
        elif existing.user_id == self.user.id and not existing.is_active:
            existing.is_active = True
            existing.emoji = emoji or existing.emoji
            existing.save()
            category = existing
        else:
            raise CategoryError("exists", name=existing.name)
        self.forget()
        return category

    def rename(self, old: str, new: str) -> Category:
        """Rename a custom category; system categories keep their names."""
        category = _own(self.user, old)
        new = _check_name(new)
        clash = find_by_name(self.user, new, include_archived=True)
        if clash is not None and clash.id != category.id:
            raise CategoryError("exists", name=clash.name)
        category.name = new
        category.save()
        self.forget()
        return category

    def archive(self, name: str) -> Category:
        """Hide a custom category from keyboards; its expenses keep it for statistics."""
        category = _own(self.user, name)
        category.is_active = False
        category.save()
        self.forget()
        return category

    def remember(self, words: Iterable[str], category: Category) -> None:
        """Learn that ``words`` mean ``category`` for this user (an upsert per word)."""
        now = utcnow()
        for word in list(dict.fromkeys(words))[:MAX_LEARNED_WORDS]:
            word = normalize(word)[:64]
            (CategoryMemory
             .insert(user=self.user.id, word=word, category=category.id, updated_at=now)
             .on_conflict(
                 conflict_target=[CategoryMemory.user, CategoryMemory.word],
                 update={CategoryMemory.category: category.id, CategoryMemory.updated_at: now},
             )
             .execute())
        self.forget()

    def forget(self) -> None:
        """Drop the cached copy after a change; for the rest of this update read without caching.

        Dropped now and, given ``after_commit`` (``ctx.after_commit``), once more when the change
        is committed: an update of the same user in another chat may have cached the old rows
        in between, and would otherwise show them until :data:`CACHE_TTL` runs out.
        """
        if self._after_commit is not None and not self._changed:
            cache, user_id = self.cache, self.user.id
            self._after_commit(lambda: forget_user(cache, user_id))
        self._changed = True
        self._loaded = None
        forget_user(self.cache, self.user.id)

    # -- loading ----------------------------------------------------------------
    def _load(self) -> tuple[list[Category], dict[str, int]]:
        if self._loaded is None:
            snapshot = None if self._changed else self.cache.get(cache_key(self.user.id))
            if not self._mine(snapshot):
                snapshot = self._read()
                if not self._changed:
                    self.cache.set(cache_key(self.user.id), snapshot, CACHE_TTL)
            self._loaded = [_model(row) for row in snapshot["categories"]], snapshot["words"]
        return self._loaded

    def _mine(self, snapshot: Any) -> bool:
        """A cached copy counts only if it names this very user (ids of erased users come back on SQLite)."""
        return (isinstance(snapshot, dict) and snapshot.get("user") == self.user.id
                and snapshot.get("telegram_id") == self.user.telegram_id)

    def _read(self) -> dict[str, Any]:
        """Two queries: the visible categories, and every learned word with its category id."""
        words = (CategoryMemory.select(CategoryMemory.word, CategoryMemory.category)
                 .where(CategoryMemory.user == self.user.id).tuples())
        return {"user": self.user.id, "telegram_id": self.user.telegram_id,
                "categories": [_plain(c) for c in visible(self.user)], "words": dict(words)}
