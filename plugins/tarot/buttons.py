"""Buttons shared by several handler modules (each class is registered once, in ``__init__``)."""
from __future__ import annotations

from framework import CallbackData


class BuyMenu(CallbackData, prefix="tarot_buymenu"):
    """Opens the /buy menu (shown when credits run short)."""


class SubscriptionMenu(CallbackData, prefix="tarot_submenu"):
    """Opens the /subscription menu (shown when a spread needs a higher tier)."""
