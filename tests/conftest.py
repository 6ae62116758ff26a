"""Fixtures shared by the project's own tests (the public ones live in framework.testing)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from framework import db as dbmod
from framework.models import CORE_MODELS


@pytest.fixture(params=["sqlite", "postgres"])
def bound_db(request, tmp_path) -> Iterator[dbmod.database.__class__]:
    """The shared proxy bound to a fresh SQLite file or throwaway PostgreSQL database,
    with the core tables created. Parametrised so DB-touching tests run on both."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/test.db"
    else:
        url = request.getfixturevalue("postgres_url")
    real = dbmod.connect(url)
    dbmod.database.initialize(real)
    real.connect(reuse_if_open=True)
    real.create_tables(CORE_MODELS)
    real.close()
    yield dbmod.database
    if not real.is_closed():
        real.close()
    if hasattr(real, "close_all"):
        real.close_all()
