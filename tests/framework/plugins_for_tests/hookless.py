"""A module that is no plugin at all: what a wrong ``module:`` path loads."""
from __future__ import annotations

GREETING = "hello"


def greet(name: str) -> str:
    return f"{GREETING}, {name}"
