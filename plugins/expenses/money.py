"""Money: parsing, validation and formatting of amounts, always with ``Decimal``.

Floats never touch an amount: text is parsed straight into ``Decimal`` and
database aggregates (which SQLite returns as floats) are brought back through
:func:`to_decimal` and quantized to the currency's minor unit.

The currency table is deliberately curated rather than the full ISO 4217 list:
every code here can be typed by a user, and codes that are also everyday words
("try", "all", "gel", "php") are only recognised in upper case inside free text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MAX_AMOUNT = Decimal("1000000000")
"""The largest single amount accepted (1e9); the column is NUMERIC(12,2)."""

# code: (minor-unit digits, symbol or None)
CURRENCIES: dict[str, tuple[int, str | None]] = {
    "USD": (2, "$"), "EUR": (2, "€"), "GBP": (2, "£"), "RUB": (2, "₽"), "UAH": (2, "₴"),
    "BYN": (2, "Br"), "KZT": (2, "₸"), "CNY": (2, "元"), "JPY": (0, "¥"), "KRW": (0, "₩"),
    "VND": (0, "₫"), "CLP": (0, None), "ISK": (0, None), "PYG": (0, "₲"), "UGX": (0, None),
    "INR": (2, "₹"), "TRY": (2, "₺"), "CHF": (2, None), "CAD": (2, None), "AUD": (2, None),
    "NZD": (2, None), "PLN": (2, "zł"), "CZK": (2, "Kč"), "SEK": (2, None), "NOK": (2, None),
    "DKK": (2, None), "GEL": (2, "₾"), "AMD": (2, "֏"), "AZN": (2, "₼"), "UZS": (2, None),
    "KGS": (2, None), "TJS": (2, None), "MDL": (2, None), "HUF": (2, "Ft"), "RON": (2, None),
    "BGN": (2, None), "RSD": (2, None), "BRL": (2, "R$"), "MXN": (2, None), "ARS": (2, None),
    "ILS": (2, "₪"), "AED": (2, None), "SAR": (2, None), "THB": (2, "฿"), "SGD": (2, None),
    "HKD": (2, None), "IDR": (2, None), "MYR": (2, None), "PHP": (2, "₱"), "TWD": (2, None),
    "ZAR": (2, None), "EGP": (2, None), "NGN": (2, "₦"), "KES": (2, None),
}

# Codes that are also ordinary words: recognised in free text only when typed in capitals.
WORDLIKE_CODES = frozenset({"TRY", "ALL", "TOP", "CUP", "MOP", "BOB", "PHP", "GEL", "AMD", "SOS", "MDL"})

# Symbols that unambiguously name one currency (¥ is read as yen, the common case).
SYMBOLS: dict[str, str] = {
    "$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "₽": "RUB", "₴": "UAH", "₸": "KZT",
    "¥": "JPY", "元": "CNY", "₩": "KRW", "₫": "VND", "₹": "INR", "₺": "TRY", "₾": "GEL",
    "₪": "ILS", "฿": "THB", "₱": "PHP", "₦": "NGN", "₼": "AZN", "֏": "AMD", "₲": "PYG",
    "R$": "BRL", "zł": "PLN", "Kč": "CZK",
}

# Words (lower case, English and Russian) that name a currency after or before a number.
WORDS: dict[str, str] = {
    "dollar": "USD", "dollars": "USD", "buck": "USD", "bucks": "USD", "usd": "USD",
    "euro": "EUR", "euros": "EUR", "eur": "EUR", "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "gbp": "GBP", "ruble": "RUB", "rubles": "RUB", "rouble": "RUB", "roubles": "RUB", "rub": "RUB",
    "yen": "JPY", "yuan": "CNY", "rmb": "CNY", "hryvnia": "UAH", "hryvnias": "UAH", "tenge": "KZT",
    "lari": "GEL", "rupee": "INR", "rupees": "INR", "lira": "TRY", "zloty": "PLN",
    "руб": "RUB", "руб.": "RUB", "рубль": "RUB", "рубля": "RUB", "рублей": "RUB", "р": "RUB",
    "р.": "RUB", "₽.": "RUB", "доллар": "USD", "доллара": "USD", "долларов": "USD", "бакс": "USD",
    "бакса": "USD", "баксов": "USD", "евро": "EUR", "фунт": "GBP", "фунта": "GBP", "фунтов": "GBP",
    "гривна": "UAH", "гривны": "UAH", "гривен": "UAH", "грн": "UAH", "тенге": "KZT",
    "юань": "CNY", "юаня": "CNY", "юаней": "CNY", "иена": "JPY", "иен": "JPY", "йен": "JPY",
    "лари": "GEL", "драм": "AMD", "манат": "AZN",
    "бел.руб": "BYN", "злотых": "PLN", "лир": "TRY", "лиры": "TRY",
}


class AmountError(ValueError):
    """A user-typed amount is not acceptable; ``code`` names the locale message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (2 when unknown)."""
    return CURRENCIES.get(currency.upper(), (2, None))[0]


def is_currency(code: str) -> bool:
    """True for a currency code this plugin accepts (any case)."""
    return code.upper() in CURRENCIES


def resolve_currency(token: str) -> str | None:
    """The ISO code named by a symbol, word or code, or None.

    Word-like codes (``TRY``, ``GEL``...) count only when typed in capitals so that
    "try 5" is not read as Turkish lira.
    """
    if token in SYMBOLS:
        return SYMBOLS[token]
    lowered = token.lower()
    if lowered in WORDS:
        return WORDS[lowered]
    upper = token.upper()
    if upper in CURRENCIES and (upper not in WORDLIKE_CODES or token == upper):
        return upper
    return None


_SPACES = "\u0020\u00a0\u202f\u2009"
_PLAIN_NUMBER = re.compile(r"\d+(?:[.,']\d+)*")
_SPACED_NUMBER = re.compile(rf"\d{{1,3}}(?:[{_SPACES}]\d{{3}})+(?:[.,]\d+)?")


def parse_number(text: str, lang: str = "en") -> Decimal:
    """Parse a number as people type it: ``12.50``, ``8,90``, ``1 200``, ``1,234.56``, ``1.234,56``.

    A lone comma followed by exactly three digits is a thousands separator in
    English ("1,234") and a decimal comma in Russian. Raises ``AmountError("invalid")``
    for anything that is not a plain decimal number, so "1e400", "NaN" and "inf"
    never reach ``Decimal``'s own (too liberal) parser.
    """
    text = text.strip()
    if text.startswith("-") and (_PLAIN_NUMBER.fullmatch(text[1:].strip()) or _SPACED_NUMBER.fullmatch(text[1:].strip())):
        raise AmountError("not_positive")
    if not (_PLAIN_NUMBER.fullmatch(text) or _SPACED_NUMBER.fullmatch(text)):
        raise AmountError("invalid")
    compact = re.sub(f"[{_SPACES}']", "", text)
    dots, commas = compact.count("."), compact.count(",")
    if dots and commas:
        decimal_sep = "." if compact.rfind(".") > compact.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        if compact.count(decimal_sep) > 1:
            raise AmountError("invalid")
        compact = compact.replace(thousands, "").replace(decimal_sep, ".")
    elif dots > 1 or commas > 1:
        sep = "." if dots else ","
        groups = compact.split(sep)
        if any(len(g) != 3 for g in groups[1:]) or len(groups[0]) > 3:
            raise AmountError("invalid")
        compact = compact.replace(sep, "")
    elif commas == 1:
        head, tail = compact.split(",")
        is_thousands = lang != "ru" and len(tail) == 3 and head != "0" and len(head) <= 3
        compact = head + tail if is_thousands else f"{head}.{tail}"
    return Decimal(compact)


def validate_amount(amount: Decimal, currency: str) -> Decimal:
    """Check an amount for ``currency`` and return it quantized to the minor unit.

    Rules: finite, positive, at most :data:`MAX_AMOUNT`, and no more decimals than
    the currency has (2 for most, 0 for yen-like currencies).
    """
    if not amount.is_finite():
        raise AmountError("invalid")
    if amount <= 0:
        raise AmountError("not_positive")
    if amount > MAX_AMOUNT:
        raise AmountError("too_large", max=format_number(MAX_AMOUNT, 0))
    places = exponent(currency)
    if amount.as_tuple().exponent < -places and amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise AmountError("too_precise", places=places, currency=currency)
    return amount.quantize(Decimal(1).scaleb(-places))


def parse_amount(text: str, currency: str, lang: str = "en") -> Decimal:
    """Parse and validate a user-typed amount (the /add amount step, /budget, /recurring)."""
    return validate_amount(parse_number(text, lang), currency)


def parse_money(text: str, default_currency: str, lang: str = "en") -> tuple[Decimal, str]:
    """Parse an amount with an optional currency marker: ``12.50``, ``12.50 eur``, ``€5``, ``350₽``.

    Used where the user is asked for an amount (the /add steps, /budget); the
    errors are the ones of :func:`parse_amount`, for the currency that applies.
    """
    text = text.strip()
    found = scan_amounts(text)
    if len(found) == 1 and not (text[:found[0].start] + text[found[0].end:]).strip():
        currency = found[0].currency or default_currency
        return parse_amount(found[0].number, currency, lang), currency
    return parse_amount(text, default_currency, lang), default_currency


def to_decimal(value: object, currency: str | None = None) -> Decimal:
    """Turn a database value (Decimal, int, float from SQLite SUM, None) into a rounded Decimal."""
    if value is None:
        result = Decimal(0)
    elif isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not a number from the database: {value!r}") from exc
    places = exponent(currency) if currency else 2
    return result.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_number(amount: Decimal, places: int, number_format: str = "en-US") -> str:
    """Group thousands and place the decimal mark per ``number_format`` (``en-US`` or ``ru-RU``)."""
    quantized = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{quantized:,.{places}f}"
    if number_format.startswith("ru"):
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text


def format_money(amount: Decimal, currency: str, number_format: str = "en-US") -> str:
    """Render ``amount`` with its currency: ``$1,234.56`` / ``1 234,56 ₽`` / ``12.00 CHF``."""
    places = exponent(currency)
    number = format_number(amount, places, number_format)
    symbol = CURRENCIES.get(currency, (2, None))[1]
    if symbol is None:
        return f"{number} {currency}"
    if number_format.startswith("en") and symbol in ("$", "€", "£", "¥", "₹", "₩", "₪", "₱", "R$"):
        return f"{symbol}{number}"
    return f"{number}\u00a0{symbol}"


@dataclass(frozen=True)
class MoneyMatch:
    """A number found in free text, with the currency marker next to it (if any)."""

    number: str
    currency: str | None
    start: int
    end: int

    @property
    def marked(self) -> bool:
        return self.currency is not None


def _alternation(tokens: list[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))


_SYMBOL_RE = _alternation(list(SYMBOLS))
_WORD_RE = _alternation(list(WORDS) + [c.lower() for c in CURRENCIES] + list(CURRENCIES))
_NUMBER_RE = rf"\d{{1,3}}(?:[{_SPACES}]\d{{3}})+(?:[.,]\d{{1,2}})?(?![\d.,])|\d+(?:[.,']\d+)*"
_MONEY_RE = re.compile(
    rf"(?<![\w.,:/\-])"
    rf"(?:(?P<pre>{_SYMBOL_RE})\s?|(?P<precode>{_WORD_RE})\s)?"
    rf"(?P<num>{_NUMBER_RE})"
    rf"(?:\s?(?P<post>{_SYMBOL_RE})|\s?(?P<postword>{_WORD_RE})(?![\w]))?"
    rf"(?![\w%:/\-]|[.,]\d)",
    re.IGNORECASE,
)


def scan_amounts(text: str) -> list[MoneyMatch]:
    """Every number in ``text`` that could be an amount, with an adjacent currency marker.

    Numbers glued to letters ("x2", "1e400"), times ("5:30"), percentages, and parts
    of dates ("2025-03-01", "01/03") are not candidates. A marker only counts when it
    resolves to a currency (see :func:`resolve_currency`).
    """
    found = []
    for match in _MONEY_RE.finditer(text):
        marker = match.group("pre") or match.group("precode") or match.group("post") or match.group("postword")
        currency = resolve_currency(marker) if marker else None
        start, end = match.span()
        if marker and currency is None:
            # A word-like code in lower case: keep the bare number, drop the word.
            start, end = match.span("num")
        found.append(MoneyMatch(match.group("num"), currency, start, end))
    return found
