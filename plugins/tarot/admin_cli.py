"""``python -m framework tarot verify-ledger``: check every account against its transactions."""
from __future__ import annotations

from typing import Any

from . import ledger


def verify_ledger(plugin: Any, args: list[str]) -> int:
    """Print each violation of the ledger invariant; exit 1 when there is any, 0 when the books balance."""
    if args:
        print("usage: python -m framework tarot verify-ledger")
        return 2
    problems = ledger.verify()
    for problem in problems:
        print(problem)
    if problems:
        print(f"ledger: {len(problems)} violation(s)")
        return 1
    print("ledger OK: every balance equals the sum of its transactions")
    return 0
