"""Constants the chatmemory tests share (a module of its own: ``conftest`` is a name every test
folder has, so importing from it picks whichever was imported first)."""
from __future__ import annotations

import datetime as dt

START = dt.datetime(2025, 3, 12, 12, 0, tzinfo=dt.UTC)  # a Wednesday, noon UTC
GROUP = -1001
