"""Commands, quick add and buttons, one module per command family: read the input, call the domain, reply.

The core parses the commands' declared arguments and the buttons' typed data
(``views``), and refuses malformed presses and other users' ones. The ids in a
button can still be forged by its own owner, so each button handler looks the
row up *through the pressing user* (``ledger.get_own(ctx.user, id)``) and
returns ``SKIP`` for a row that is not theirs or no longer there: the core
then tells them the button is no longer valid.
"""
from __future__ import annotations

from ..views import (
    DeleteListed,
    EditExpense,
    ListPage,
    QuickAnswer,
    RecurringAction,
    RestoreExpense,
    SetCategory,
    UndoExpense,
)
from . import budget, categories, listing, quick, recurring, reports, settings
from .common import PERIOD_ARGS

__all__ = ["BUTTONS", "PERIOD_ARGS", "budget", "categories", "listing", "quick", "recurring", "reports", "settings"]

BUTTONS = ((UndoExpense, quick.on_undo), (RestoreExpense, quick.on_restore), (SetCategory, quick.on_category),
           (DeleteListed, listing.on_delete), (ListPage, listing.on_page), (EditExpense, listing.on_edit),
           (RecurringAction, recurring.on_recurring), (QuickAnswer, quick.on_answer))
"""Each button class with its handler, registered in one loop by the plugin."""
