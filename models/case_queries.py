"""Read-side repository functions for cases: lists, lookups and what is due next."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Row, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from models.cases import Case, Deadline
from models.mail import OutgoingMail, RawMessage


def list_cases(session: Session, status: str | None = None, limit: int | None = None) -> list[Case]:
    query = select(Case).order_by(Case.created_at, Case.id)
    if status:
        query = query.where(Case.status == status)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def next_due_by_case(session: Session, case_ids: list[int]) -> dict[int, datetime]:
    """The earliest pending deadline of each case."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(Deadline.case_id, func.min(Deadline.due_at))
        .where(Deadline.case_id.in_(case_ids), Deadline.state == "pending")
        .group_by(Deadline.case_id)
    )
    return dict(rows.all())


def find_case(session: Session, number: str) -> Case | None:
    return session.scalar(select(Case).where(Case.number == number))


def mails_of_case(session: Session, case_id: int) -> tuple[list[RawMessage], list[OutgoingMail]]:
    incoming = session.scalars(
        select(RawMessage).where(RawMessage.case_id == case_id).order_by(RawMessage.id)
    )
    outgoing = session.scalars(
        select(OutgoingMail).where(OutgoingMail.case_id == case_id).order_by(OutgoingMail.id)
    )
    return list(incoming), list(outgoing)


def case_id_for_message_ids(session: Session, message_ids: list[str]) -> int | None:
    """The case one of these Message-IDs belongs to: a mail we sent, or one we received."""
    if not message_ids:
        return None
    sent = session.scalar(select(OutgoingMail.case_id).where(
        OutgoingMail.message_id.in_(message_ids), OutgoingMail.case_id.is_not(None)).limit(1))
    if sent is not None:
        return sent
    return session.scalar(select(RawMessage.case_id).where(
        RawMessage.message_id.in_(message_ids), RawMessage.case_id.is_not(None)).limit(1))


def case_id_for_token(session: Session, token: str) -> int | None:
    return session.scalar(select(Case.id).where(Case.reply_token == token.lower()))


def case_id_for_number(session: Session, number: str) -> int | None:
    return session.scalar(select(Case.id).where(Case.number == number))


def earlier_complaint_of_customer(session: Session, case: Case, since: datetime) -> Row | None:
    """The id and number of the latest other complaint of `case`'s category since `since` from
    the same address or naming one of the same phones (重复投诉), found by the database."""
    same_customer = [Case.complainant_address == case.complainant_address] if case.complainant_address else []
    # Phones are a JSON list: match each one as the JSON string it is stored as.
    same_customer += [cast(Case.complainant_phones, Text).contains(json.dumps(phone), autoescape=True)
                      for phone in case.complainant_phones]
    if not same_customer:
        return None
    return session.execute(
        select(Case.id, Case.number)
        .where(Case.category == case.category, Case.kind == "complaint",
               Case.created_at >= since, Case.id != case.id, or_(*same_customer))
        .order_by(Case.created_at.desc(), Case.id.desc()).limit(1)).first()
