"""Write-side repository functions for cases: events, deadlines, corrections, auto-reply counts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from models.cases import Case, CaseEvent, Deadline, LabelCorrection, SentAutoReply


def add_event(session: Session, case_id: int, kind: str, actor: str, at: datetime,
              detail: dict | None = None, raw_message_id: int | None = None,
              outgoing_mail_id: int | None = None, flush: bool = True) -> CaseEvent:
    """`flush=False` when the caller needs no id: the rows then go in one batch, at the next
    query or the commit, instead of one INSERT each (opening a case writes a dozen)."""
    event = CaseEvent(case_id=case_id, kind=kind, actor=actor, at=at, detail=detail or {},
                      raw_message_id=raw_message_id, outgoing_mail_id=outgoing_mail_id)
    session.add(event)
    if flush:
        session.flush()
    return event


def add_deadlines(session: Session, case_id: int, planned: Iterable[tuple[str, datetime, datetime]],
                  round_: int = 0, met: dict[str, datetime] | None = None) -> None:
    """(stage, starts_at, due_at) deadlines of a handling round in one multi-row INSERT, five
    times cheaper than ORM objects (opening a case writes nine); a stage in `met` is written
    as done at that time."""
    met = met or {}
    session.execute(insert(Deadline.__table__), [
        {"case_id": case_id, "stage": stage, "round": round_, "starts_at": starts_at,
         "due_at": due_at, "state": "done" if stage in met else "pending",
         "done_at": met.get(stage), "escalation_level": 0}
        for stage, starts_at, due_at in planned
    ])


def pending_deadlines(session: Session, case_id: int,
                      stages: tuple[str, ...] | None = None) -> list[Deadline]:
    query = select(Deadline).where(Deadline.case_id == case_id, Deadline.state == "pending")
    if stages:
        query = query.where(Deadline.stage.in_(stages))
    return list(session.scalars(query.order_by(Deadline.due_at)))


def complete_deadlines(session: Session, case_id: int, stages: tuple[str, ...], at: datetime) -> None:
    session.execute(update(Deadline)
                    .where(Deadline.case_id == case_id, Deadline.stage.in_(stages),
                           Deadline.state == "pending")
                    .values(state="done", done_at=at))


def cancel_deadlines(session: Session, case_id: int, at: datetime) -> None:
    session.execute(update(Deadline)
                    .where(Deadline.case_id == case_id, Deadline.state == "pending")
                    .values(state="cancelled", done_at=at))


def record_correction(session: Session, case: Case, head: str, new_label: str, by: str,
                      source: str, at: datetime) -> LabelCorrection | None:
    old_label = getattr(case, head)
    if old_label == new_label:
        return None
    predicted = session.scalar(
        select(LabelCorrection.predicted_label)
        .where(LabelCorrection.case_id == case.id, LabelCorrection.head == head)
        .order_by(LabelCorrection.id).limit(1)
    ) or old_label
    correction = LabelCorrection(case_id=case.id, head=head, old_label=old_label,
                                 new_label=new_label, predicted_label=predicted,
                                 model_version=case.model_version, corrected_by=by,
                                 source=source, at=at)
    session.add(correction)
    setattr(case, head, new_label)
    return correction


def auto_replies_since(session: Session, address: str, since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(SentAutoReply)
                          .where(SentAutoReply.address == address, SentAutoReply.at >= since))


def note_auto_reply(session: Session, address: str, at: datetime, note: str) -> None:
    session.add(SentAutoReply(address=address, at=at, note=note))
