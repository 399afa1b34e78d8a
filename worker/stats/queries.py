"""Loading the rows a report needs for one period (read-only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from models.cases import Case, CaseEvent, Deadline, LabelCorrection
from models.mail import OutgoingMail
from worker.stats.periods import Period
from worker.stats.rows import CaseRow, CorrectionRow, DeadlineRow, EventRow, StatsRows

# Events the figures read; the rest of a case's history is not loaded.
EVENT_KINDS = ("department_answer", "extended", "reopened", "satisfaction", "sent_follow_up",
               "closed", "out_of_scope")
FINAL_STATUSES = ("closed", "archived", "out_of_scope")


def _case_ids(period: Period, as_of: datetime) -> Select:
    """Cases opened in the period, with a deadline due in it, a follow-up or verdict in it,
    or possibly open at its end (the backlog: the history decides)."""
    start, end = period.start, period.end
    backlog_at = min(end, as_of)
    due = select(Deadline.case_id).where(Deadline.due_at >= start, Deadline.due_at < end)
    reacted = select(CaseEvent.case_id).where(
        CaseEvent.kind.in_(("sent_follow_up", "satisfaction", "reopened")),
        CaseEvent.at >= start, CaseEvent.at < end)
    return select(Case.id).where(or_(
        (Case.created_at >= start) & (Case.created_at < end),
        Case.id.in_(due),
        Case.id.in_(reacted),
        (Case.created_at < backlog_at) & or_(Case.status.not_in(FINAL_STATUSES),
                                             Case.closed_at.is_(None),
                                             Case.closed_at >= backlog_at),
    ))


def load_rows(session: Session, period: Period, as_of: datetime) -> StatsRows:
    ids = _case_ids(period, as_of).scalar_subquery()
    rows = StatsRows()
    for case in session.scalars(select(Case).where(Case.id.in_(ids))):
        rows.cases[case.id] = CaseRow(
            id=case.id, number=case.number, status=case.status, kind=case.kind,
            category=case.category, department=case.department, severity=case.severity,
            needs_review=bool(case.needs_review), predicted_heads=frozenset(case.confidence or {}),
            complainant_address=case.complainant_address, repeat_of_id=case.repeat_of_id,
            reopen_count=case.reopen_count, created_at=case.created_at,
            replied_at=case.replied_at, closed_at=case.closed_at)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids),
                                                     CaseEvent.kind.in_(EVENT_KINDS)))
    rows.events = [EventRow(e.id, e.case_id, e.kind, e.at, e.actor, e.detail or {}) for e in events]
    deadlines = session.scalars(select(Deadline).where(Deadline.case_id.in_(ids)))
    rows.deadlines = [DeadlineRow(d.case_id, d.stage, d.round, d.starts_at, d.due_at, d.state,
                                  d.done_at, d.extended_by) for d in deadlines]
    corrections = session.scalars(select(LabelCorrection).where(LabelCorrection.case_id.in_(ids)))
    rows.corrections = [CorrectionRow(c.id, c.case_id, c.head, c.old_label, c.predicted_label,
                                      c.new_label, c.at) for c in corrections]
    return rows


def first_case_at(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Case.created_at)))


def mail_queued(session: Session, dedup_key: str) -> bool:
    return session.scalar(select(OutgoingMail.id).where(OutgoingMail.dedup_key == dedup_key)) is not None
