"""The few SQL forms that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


def insert_or_ignore(session: Session, table: Table, values: dict) -> Any | None:
    """Insert a row unless a unique constraint already holds one like it.

    Returns the new row's primary key, or None when nothing was inserted. The database
    decides, not a SELECT before the INSERT: two pollers racing on the same message both run
    this, and exactly one of them gets a key. (RETURNING, not rowcount: PostgreSQL's driver
    reports -1 for an INSERT … RETURNING.)
    """
    statement = _insert_or_ignore(table, session.get_bind().dialect.name == "sqlite")
    row = session.execute(statement, values).first()
    return row[0] if row is not None else None


@cache
def _insert_or_ignore(table: Table, on_sqlite: bool) -> Insert:
    """Built once per table, the values passed as parameters: building the statement with
    `.values(...)` on every call cost five times the INSERT itself (raw mail, outbox rows)."""
    dialect = sqlite if on_sqlite else postgresql
    return dialect.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
