"""The few SQL forms that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_ignore(session: Session, table: Table, values: dict) -> Any | None:
    """Insert a row unless a unique constraint already holds one like it.

    Returns the new row's primary key, or None when nothing was inserted. The database
    decides, not a SELECT before the INSERT: two pollers racing on the same message both run
    this, and exactly one of them gets a key. (RETURNING, not rowcount: PostgreSQL's driver
    reports -1 for an INSERT … RETURNING.)
    """
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    statement = (dialect.insert(table).values(**values).on_conflict_do_nothing()
                 .returning(*table.primary_key.columns))
    row = session.execute(statement).first()
    return row[0] if row is not None else None
