"""export: RFC 4180 CSV, UTF-8 with BOM, no spreadsheet formulas."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from plugins.expenses import export
from plugins.expenses.export import ExportRow


def rows() -> list[ExportRow]:
    return [
        ExportRow(dt.date(2025, 3, 1), Decimal("12.50"), "USD", "Food", 'coffee, "large"', "nlp"),
        ExportRow(dt.date(2025, 3, 2), Decimal("350"), "RUB", "Транспорт", "такси\nдомой", "manual"),
        ExportRow(dt.date(2025, 3, 3), Decimal("1000.00"), "USD", "Bills", "=HYPERLINK(\"x\")", "recurring"),
    ]


def test_bom_header_and_crlf() -> None:
    data = export.to_csv(rows())
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.startswith("date,amount,currency,category,note,source\r\n")
    assert text.endswith("\r\n")


def test_quoting_round_trips_through_csv_reader() -> None:
    text = export.to_csv(rows()).decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == list(export.HEADER)
    assert parsed[1] == ["2025-03-01", "12.50", "USD", "Food", 'coffee, "large"', "nlp"]
    assert parsed[2] == ["2025-03-02", "350", "RUB", "Транспорт", "такси\nдомой", "manual"]
    assert '"coffee, ""large"""' in text


def test_formula_cells_are_neutralised() -> None:
    text = export.to_csv(rows()).decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[3][4] == "'=HYPERLINK(\"x\")"


def test_empty_export_has_header_only() -> None:
    assert export.to_csv([]).decode("utf-8-sig") == "date,amount,currency,category,note,source\r\n"


def test_filename() -> None:
    assert export.filename(dt.date(2025, 3, 1), dt.date(2025, 3, 31)) == "expenses_2025-03-01_2025-03-31.csv"
