"""Categories: the seven system ones, user-made ones, and guessing a category from words.

Guessing has two layers. What this user chose before for a word
(``category_memory``) wins; otherwise an English/Russian keyword map decides.
English keywords match whole words and plurals; Russian keywords are stems that
match any ending of up to three letters, because Russian inflects nouns
("обед", "обеда", "обедом").
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from framework import User, utcnow

from .models import Category, CategoryMemory


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
# Database operations
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


def get_visible(user: User, category_id: object) -> Category | None:
    """The category with ``category_id`` if ``user`` may use it (never trust ids from buttons)."""
    try:
        category_id = int(category_id)
    except (TypeError, ValueError):
        return None
    if not 0 < category_id < 2**63:  # a forged id past BIGINT would make the driver raise
        return None
    return Category.get_or_none(
        (Category.id == category_id)
        & (Category.is_active == True)  # noqa: E712
        & ((Category.user == user.id) | (Category.user.is_null() & (Category.is_system == True)))  # noqa: E712
    )


def find_by_name(user: User, name: str, include_archived: bool = False) -> Category | None:
    """A visible category by name, case-insensitively."""
    wanted = normalize(name.strip())
    for category in visible(user, include_archived=include_archived):
        if normalize(category.name) == wanted:
            return category
    return None


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


def create(user: User, name: str, emoji: str | None) -> Category:
    """Add a custom category, or bring an archived one with that name back."""
    name = _check_name(name)
    existing = find_by_name(user, name, include_archived=True)
    if existing is not None:
        if existing.user_id == user.id and not existing.is_active:
            existing.is_active = True
            existing.emoji = emoji or existing.emoji
            existing.save()
            return existing
        raise CategoryError("exists", name=existing.name)
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


def rename(user: User, old: str, new: str) -> Category:
    """Rename a custom category; system categories keep their names."""
    category = _own(user, old)
    new = _check_name(new)
    clash = find_by_name(user, new, include_archived=True)
    if clash is not None and clash.id != category.id:
        raise CategoryError("exists", name=clash.name)
    category.name = new
    category.save()
    return category


def archive(user: User, name: str) -> Category:
    """Hide a custom category from keyboards; its expenses keep it for statistics."""
    category = _own(user, name)
    category.is_active = False
    category.save()
    return category


def remember(user: User, words: Iterable[str], category: Category) -> None:
    """Learn that ``words`` mean ``category`` for this user (an upsert per word)."""
    now = utcnow()
    for word in list(dict.fromkeys(words))[:MAX_LEARNED_WORDS]:
        word = normalize(word)[:64]
        (CategoryMemory
         .insert(user=user.id, word=word, category=category.id, updated_at=now)
         .on_conflict(
             conflict_target=[CategoryMemory.user, CategoryMemory.word],
             update={CategoryMemory.category: category.id, CategoryMemory.updated_at: now},
         )
         .execute())


def learned_words(user: User) -> frozenset[str]:
    """Every word this user taught; the quick-add parser treats them like keywords."""
    query = CategoryMemory.select(CategoryMemory.word).where(CategoryMemory.user == user.id)
    return frozenset(row.word for row in query)


def guess(user: User, words: list[str], auto_categorize: bool = True) -> Category:
    """The category for a note: learned choice, then keyword, then "Other".

    With ``auto_categorize`` off only learned choices are used, so the user sees
    "Other" until they pick a category themselves.
    """
    words = [normalize(w) for w in words]
    if words:
        learned = (CategoryMemory
                   .select(CategoryMemory.word, Category)
                   .join(Category)
                   .where(CategoryMemory.user == user.id, CategoryMemory.word.in_(words),
                          Category.is_active == True))  # noqa: E712
        by_word = {row.word: row.category for row in learned}
        for word in words:
            if word in by_word:
                return by_word[word]
    system = system_categories()
    name = guess_system_name(words) if auto_categorize else None
    return system[name or FALLBACK]
