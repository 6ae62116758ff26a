"""CSV export of expenses: RFC 4180 quoting by the ``csv`` module, UTF-8 with a BOM.

The BOM makes Excel open Cyrillic notes correctly; the CRLF line ends are what
RFC 4180 specifies. Text cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or CR) get a leading apostrophe,
the OWASP advice against CSV injection: a shared export must not run code.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

HEADER = ("date", "amount", "currency", "category", "note", "source")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportRow:
    """One expense as it appears in the file."""

    date: dt.date
    amount: Decimal
    currency: str
    category: str
    note: str
    source: str


def _safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def to_csv(rows: Iterable[ExportRow]) -> bytes:
    """The CSV file as bytes, ready for ``ctx.send_document``."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow((
            row.date.isoformat(),
            format(row.amount, "f"),
            row.currency,
            _safe_text(row.category),
            _safe_text(row.note),
            row.source,
        ))
    return buffer.getvalue().encode("utf-8-sig")


def filename(start: dt.date, end: dt.date) -> str:
    """A descriptive file name: ``expenses_2025-03-01_2025-03-31.csv``."""
    return f"expenses_{start.isoformat()}_{end.isoformat()}.csv"
