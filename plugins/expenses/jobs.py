"""The recurring-expenses job: create what is due, once, in each user's timezone.

Schedules of archived, banned or deleted users do not run; a muted user
(``users.notifications_enabled`` off) gets the expense without the notice.

Exactly once per (schedule, due date), even with two schedulers or a restart
between the insert and the notification:

* ``next_run`` is advanced with ``UPDATE ... WHERE next_run = <the due date
  we read>``, so of two concurrent runs only one goes on with a due date;
* the expense is only created after inserting a ``recurring_runs`` row with
  UNIQUE (recurring, due_date), so even a schedule moved back (paused and
  resumed the same day) never books the same due date twice;
* both happen in the job's transaction, so a crash leaves neither.

Missed dates (the bot was down) are caught up, at most :data:`MAX_CATCH_UP`
per schedule and run, so a very long outage cannot flood a user.
"""
from __future__ import annotations

import datetime as dt
import logging

import peewee

from framework import JobContext, User, UserSettings, database

from . import categories, ledger, preferences, recurring, service
from .models import Category, Expense, ExpenseSettings, RecurringExpense, RecurringRun
from .periods import local_date
from .views import View

log = logging.getLogger(__name__)

MAX_CATCH_UP = 31
UTC_MAX_AHEAD = dt.timedelta(hours=14)  # the furthest any timezone runs ahead of UTC


def run_recurring(job: JobContext) -> None:
    """Create every due recurring expense and tell its owner."""
    now = job.now()
    horizon = (now + UTC_MAX_AHEAD).date()
    due = (RecurringExpense
           .select(RecurringExpense, User, ExpenseSettings)
           .join(User, on=(RecurringExpense.user == User.id))
           .join_from(User, ExpenseSettings, peewee.JOIN.LEFT_OUTER, on=(ExpenseSettings.user == User.id),
                      attr="expense_prefs")
           .join_from(User, UserSettings, peewee.JOIN.LEFT_OUTER, on=(UserSettings.user == User.id),
                      attr="core_settings")
           .where(RecurringExpense.active == True, RecurringExpense.next_run <= horizon,  # noqa: E712
                  # an archived (inactive for the archive period), deleted or blocked (the bot
                  # cannot reach them) user's schedules stop; users.status is the core's
                  UserSettings.archived_at.is_null(), User.status.not_in(("deleted", "blocked")))
           .order_by(RecurringExpense.id))
    for row in due:
        if job.access.active_ban(row.user) is not None:
            continue  # a banned user's schedules stop too (until the ban ends or is lifted)
        try:
            with database.atomic():
                _run_schedule(job, row, now)
        except Exception:
            log.exception("recurring schedule %s failed; it will be retried on the next run", row.id)


def _run_schedule(job: JobContext, row: RecurringExpense, now: dt.datetime) -> None:
    user = row.user
    lang = job.language_of(user)  # the user's /language choice, as their updates are answered in
    prefs = getattr(user, "expense_prefs", None)
    if prefs is None or prefs.id is None:
        prefs = preferences.get(user, job.settings, lang, create=False)
    today = local_date(now, user.timezone or "UTC")  # the core's timezone, as in the user's updates
    view = View(lambda key, **kw: job.t(key, lang=lang, **kw), prefs)
    created = 0
    for _ in range(MAX_CATCH_UP):
        if row.next_run is None or row.next_run > today:
            break
        expense = _create_once(job, row, row.next_run, now)
        if expense is not None:
            created += 1
            job.notify(user, "recurring.created", line=view.expense(expense))  # skipped when muted
    if created and prefs.id is not None:
        alert = service.budget_alert(view, user, prefs, today)
        if alert:
            job.send_message(user.telegram_id, alert)  # composed by the view, in the user's language


def _create_once(job: JobContext, row: RecurringExpense, due: dt.date, now: dt.datetime) -> Expense | None:
    """Advance the schedule past ``due`` and create its expense, unless that already happened.

    Always moves ``row.next_run`` forward (or to what the database says), so the
    caller's loop ends.
    """
    following = recurring.following(row.schedule_kind, row.schedule_day, due)
    advanced = (RecurringExpense
                .update(next_run=following, last_run=due, updated_at=now)
                .where(RecurringExpense.id == row.id, RecurringExpense.next_run == due)
                .execute())
    if not advanced:  # another run moved it first: continue from where it got to
        current = RecurringExpense.get_or_none(RecurringExpense.id == row.id)
        row.next_run = current.next_run if current is not None else None
        return None
    row.next_run, row.last_run = following, due
    try:
        with database.atomic():
            run = RecurringRun.create(recurring=row.id, due_date=due, created_at=now)
    except peewee.IntegrityError:
        log.info("recurring %s already created its expense for %s", row.id, due)
        return None
    category = (Category.get_or_none(Category.id == row.category_id) if row.category_id else None) \
        or categories.system_categories().get(categories.FALLBACK)
    expense = ledger.add(row.user, amount=row.amount, currency=row.currency, category=category, note=row.note,
                         date=due, source="recurring", now=now)
    RecurringRun.update(expense=expense.id).where(RecurringRun.id == run.id).execute()
    job.audit("expense_added", user=row.user, entity_type="expense", entity_id=expense.id,
              details=service.audit_details(expense, category, None))
    return expense
