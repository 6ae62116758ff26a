"""The hot per-update statements, their SQL text built once and run with new parameters.

peewee compiles a query from its expression tree every time it runs: for the few statements
every update sends (the queue's take and delete, the exactly-once claim, the expense, the
audit row, the outbox row) that Python work cost more CPU than the database executing them
(docs/performance.md, "Where the time goes"). Here each is built once per database kind and
shape (table, columns, conflict handling) and then only its parameters change. The values go
through each field's ``db_value``, exactly as peewee converts them, so the rows are the ones
peewee would have written; everything else keeps using peewee's query builder.
"""
from __future__ import annotations

import threading
from typing import Any, TypeVar

import peewee

from .db import database, is_postgres

M = TypeVar("M", bound=peewee.Model)

_lock = threading.Lock()
_texts: dict[tuple[Any, ...], str] = {}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql(text: str) -> str:
    """``text`` written with ``%s`` placeholders, in the current database's parameter style."""
    key = ("raw", text, is_postgres())
    found = _texts.get(key)
    if found is None:
        found = text if key[2] else text.replace("%s", "?")
        with _lock:
            _texts[key] = found
    return found


def execute(text: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
    """Run ``text`` (``%s`` placeholders) with ``params`` on the current connection; the cursor."""
    return database.execute_sql(sql(text), params)


def _insert_text(model: type[peewee.Model], fields: tuple[peewee.Field, ...], ignore: bool, postgres: bool) -> str:
    key = ("insert", model, tuple(f.name for f in fields), ignore, postgres)
    found = _texts.get(key)
    if found is not None:
        return found
    table = _quote(model._meta.table_name)
    columns = ", ".join(_quote(f.column_name) for f in fields)
    marks = ", ".join(["%s" if postgres else "?"] * len(fields))
    if postgres:
        text = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        if ignore:
            text += " ON CONFLICT DO NOTHING"
        elif model._meta.primary_key is not None and model._meta.auto_increment:
            text += f" RETURNING {_quote(model._meta.primary_key.column_name)}"
    else:
        text = f"INSERT {'OR IGNORE ' if ignore else ''}INTO {table} ({columns}) VALUES ({marks})"
    with _lock:
        _texts[key] = text
    return text


def insert_many(model: type[peewee.Model], rows: list[dict[str, Any]], *, ignore_conflict: bool = False) -> None:
    """``model.insert_many(rows)`` (``.on_conflict_ignore()``), every row with the same keys: one
    multi-row INSERT whose text is built once per table, columns and number of rows."""
    if not rows:
        return
    names = tuple(rows[0])
    fields = tuple(model._meta.fields[name] for name in names)
    postgres = is_postgres()
    key = ("insert_many", model, names, len(rows), ignore_conflict, postgres)
    text = _texts.get(key)
    if text is None:
        one = "(" + ", ".join(["%s" if postgres else "?"] * len(fields)) + ")"
        text = _insert_text(model, fields, ignore_conflict, postgres).replace(
            "VALUES " + one, "VALUES " + ", ".join([one] * len(rows)), 1)
        if postgres and not ignore_conflict:
            text = text.split(" RETURNING ", 1)[0]
        with _lock:
            _texts[key] = text
    params = [field.db_value(row[name]) for row in rows for field, name in zip(fields, names, strict=True)]
    database.execute_sql(text, params)


def insert(model: type[peewee.Model], values: dict[str, Any], *, ignore_conflict: bool = False) -> int | None:
    """``model.insert(**values).execute()`` (``.on_conflict_ignore().as_rowcount()`` with
    ``ignore_conflict``): the new row's id, or with ``ignore_conflict`` the number of rows
    inserted (0 when the row was there already). ``values`` are plain Python values by field name.
    """
    fields_by_name = model._meta.fields
    fields = tuple(fields_by_name[name] for name in values)
    if any(isinstance(value, peewee.Node) for value in values.values()):  # an SQL expression: peewee's job
        query = model.insert(**values)
        return query.on_conflict_ignore().as_rowcount().execute() if ignore_conflict else query.execute()
    postgres = is_postgres()
    text = _insert_text(model, fields, ignore_conflict, postgres)
    params = [field.db_value(value) for field, value in zip(fields, values.values(), strict=True)]
    cursor = database.execute_sql(text, params)
    if ignore_conflict:
        return cursor.rowcount
    if postgres:
        if not text.endswith("RETURNING " + _quote(model._meta.primary_key.column_name)):
            return None
        row = cursor.fetchone()
        return row[0] if row else None
    return cursor.lastrowid


def create(model: type[M], **values: Any) -> M:
    """``model.create(**values)``: the instance, defaults filled in, with its new id."""
    instance = model(**values)
    data = dict(instance.__data__)
    instance._populate_unsaved_relations(data)
    pk = model._meta.primary_key
    auto = bool(pk) and model._meta.auto_increment and instance._pk is None
    if auto:
        data.pop(pk.name, None)
    new_id = insert(model, data)
    if auto and new_id is not None:
        instance._pk = new_id
        instance._dirty.discard(pk.name)
    instance._dirty -= set(data)
    return instance


def get_or_none(model: type[M], field: peewee.Field, value: Any) -> M | None:
    """``model.get_or_none(field == value)``: the first row with that value, or None; the row is
    built as peewee builds it (each column's ``python_value``, no defaults, nothing dirty)."""
    fields = model._meta.sorted_fields
    key = ("get", model, field.name)
    text = _texts.get(key)
    if text is None:
        table = _quote(model._meta.table_name)
        text = (f"SELECT {', '.join(f'{table}.{_quote(f.column_name)}' for f in fields)} FROM {table} "
                f"WHERE {table}.{_quote(field.column_name)} = %s LIMIT 1")
        with _lock:
            _texts[key] = text
    row = execute(text, (field.db_value(value),)).fetchone()
    if row is None:
        return None
    instance = model(__no_default__=1, **{f.name: f.python_value(v) for f, v in zip(fields, row, strict=True)})
    instance._dirty.clear()
    return instance
