"""Retention (seed 000 第十五条: keep at least three years): after the policy's years, raw mail
and attachments are deleted and personal data anonymised; labels, dates and events stay for
the statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from models.cases import Case, CaseEvent
from models.mail import Attachment, OutgoingMail, RawMessage

ANONYMISED = "[已匿名]"


@dataclass(frozen=True)
class PurgeItem:
    case_number: str
    closed_at: datetime
    raw_messages: int
    attachments: int


def expired_cases(session, years: int, now: datetime) -> list[Case]:
    cutoff = now - timedelta(days=round(365.25 * years))
    return list(session.scalars(
        select(Case).where(Case.closed_at.is_not(None), Case.closed_at < cutoff,
                           Case.anonymised_at.is_(None)).order_by(Case.closed_at)))


def purge(app, now: datetime, dry_run: bool) -> list[PurgeItem]:
    """What goes (and, unless dry_run, removes it)."""
    items = []
    with app.db.transaction() as session:
        for case in expired_cases(session, app.policy.retention.years, now):
            raws = list(session.scalars(select(RawMessage).where(RawMessage.case_id == case.id)))
            files = list(session.scalars(select(Attachment).where(Attachment.case_id == case.id)))
            items.append(PurgeItem(case.number, case.closed_at, len(raws), len(files)))
            if not dry_run:
                _anonymise(session, app.storage_dir, case, raws, files, now)
        if dry_run:
            session.rollback()
    return items


def _anonymise(session, storage_dir, case: Case, raws, files, now: datetime) -> None:
    for attachment in files:
        (storage_dir / attachment.stored_name).unlink(missing_ok=True)
    for raw in raws:
        raw.raw = None
    case.complainant_name = None
    case.complainant_address = None
    case.complainant_phones = []
    case.subject = ANONYMISED
    case.facts = ANONYMISED
    case.complained_object = None
    case.order_numbers = []
    case.anonymised_at = now
    session.execute(update(OutgoingMail).where(OutgoingMail.case_id == case.id).values(
        to_addresses=[], cc_addresses=[], body_text=ANONYMISED, body_html=None, subject=ANONYMISED))
    session.execute(update(CaseEvent).where(CaseEvent.case_id == case.id).values(detail={}))
