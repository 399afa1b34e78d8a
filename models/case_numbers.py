"""Case numbers (投诉编号): unique, human-friendly, sortable, never repeated across workers."""

from __future__ import annotations

import re
import string
from datetime import date

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from models.cases import CaseCounter
from models.sql import insert_or_ignore


def number_scope(fmt: str, opened_on: date) -> str:
    """The format rendered without its serial, e.g. 'TS-20261122-#': one counter per scope."""
    parts = []
    for literal, field, spec, _conversion in string.Formatter().parse(fmt):
        parts.append(literal)
        if field == "seq":
            parts.append("#")
        elif field is not None:
            parts.append(format(opened_on, spec or ""))
    return "".join(parts)


COUNTERS = CaseCounter.__table__
_COUNT_UP = (update(COUNTERS).where(COUNTERS.c.scope == bindparam("of_scope"))
             .values(value=COUNTERS.c.value + 1).returning(COUNTERS.c.value))


def next_case_number(session: Session, fmt: str, opened_on: date) -> str:
    """The next number in the scope of `opened_on`, taken inside the caller's transaction.

    The UPDATE … RETURNING holds the counter row until the case is committed, so concurrent
    workers get consecutive numbers; a rolled-back case gives its number back. A scope's
    first case creates its counter (insert-or-ignore: two workers may both try).
    """
    scope = number_scope(fmt, opened_on)
    serial = _count_up(session, scope)
    if serial is None:
        insert_or_ignore(session, COUNTERS, {"scope": scope, "value": 0})
        serial = _count_up(session, scope)
    return fmt.format(date=opened_on, seq=serial)


def _count_up(session: Session, scope: str) -> int | None:
    return session.execute(_COUNT_UP, {"of_scope": scope}).scalar_one_or_none()


_DATE_DIRECTIVES = {"%Y": r"\d{4}", "%y": r"\d{2}", "%m": r"\d{2}", "%d": r"\d{2}",
                    "%H": r"\d{2}", "%j": r"\d{3}"}


def number_pattern(fmt: str) -> str:
    """A regular expression matching the numbers this format renders (to find them in subjects)."""
    parts = []
    for literal, field, spec, _conversion in string.Formatter().parse(fmt):
        parts.append(re.escape(literal))
        if field == "seq":
            parts.append(r"\d+")
        elif field is not None:
            for directive, pattern in _DATE_DIRECTIVES.items():
                spec = spec.replace(directive, "\0" + pattern + "\0")
            parts.append("".join(re.escape(p) if i % 2 == 0 else p
                                 for i, p in enumerate(spec.split("\0"))))
    return "".join(parts)
