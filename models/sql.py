"""The few SQL forms that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_ignore(session: Session, table: Table, values: dict) -> bool:
    """Insert a row unless a unique constraint already holds one like it; True if inserted.

    The database decides, not a SELECT before the INSERT: two pollers racing on the same
    message both run this, and exactly one of them gets True.
    """
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing()
    return session.execute(statement).rowcount == 1
