"""charts: a real PNG, and the text-only fallback."""
from __future__ import annotations

import builtins
import datetime as dt
from decimal import Decimal

import pytest

from plugins.expenses import charts


def data(slices=None) -> charts.ChartData:
    return charts.ChartData(
        title="March 2025",
        currency="USD",
        slices=slices if slices is not None else [("Food", "#F4A261", Decimal("120.50")),
                                                  ("Transport", "#2A9D8F", Decimal("40")),
                                                  ("Прочее", "#8D99AE", Decimal("9.99"))],
        days=[(dt.date(2025, 3, d), Decimal(d * 3)) for d in range(1, 11)],
        by_category_title="By category",
        by_day_title="By day",
        other_label="Other",
    )


def test_render_returns_a_png() -> None:
    pytest.importorskip("matplotlib", reason="charts need matplotlib (pip install plugbot[charts])")
    png = charts.render(data())
    assert png is not None and png.startswith(charts.PNG_SIGNATURE)
    assert len(png) > 1000


def test_many_categories_are_folded() -> None:
    pytest.importorskip("matplotlib", reason="charts need matplotlib (pip install plugbot[charts])")
    many = [(f"Cat {i}", "#123456", Decimal(i + 1)) for i in range(12)]
    folded = charts._fold_small(many, "Other")
    assert len(folded) == charts.MAX_SLICES
    assert folded[-1][0] == "Other" and folded[-1][2] == sum(Decimal(i + 1) for i in range(6))
    assert charts.render(data(many)).startswith(charts.PNG_SIGNATURE)


def test_nothing_to_draw() -> None:
    assert charts.render(data([])) is None


def test_without_matplotlib_returns_none(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert charts.render(data()) is None
