"""Fixtures for the admin plugin tests (helpers in ``admin_helpers``, a name no other test folder uses).

The project root goes first on ``sys.path`` so ``plugins.admin`` is the code under test, not
``tests/plugins`` seen as a namespace package.
"""
from __future__ import annotations

import sys
from typing import Any

import pytest
from admin_helpers import ROOT, make_bot

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(params=[pytest.param("memory", id="memory+sqlite"),
                        pytest.param("redis", id="redis+postgres", marks=[pytest.mark.redis, pytest.mark.postgres])])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def bot(bot_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return make_bot(bot_factory, monkeypatch)
