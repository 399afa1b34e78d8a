"""Write-side repository functions for cases: events, deadlines, corrections, auto-reply counts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from models.cases import Case, CaseEvent, Deadline, LabelCorrection, SentAutoReply


def event_row(case_id: int, kind: str, actor: str, at: datetime, detail: dict | None = None,
              raw_message_id: int | None = None, outgoing_mail_id: int | None = None) -> dict:
    """One entry of a case's history, as the columns of `case_events`."""
    return {"case_id": case_id, "kind": kind, "actor": actor, "at": at, "detail": detail or {},
            "raw_message_id": raw_message_id, "outgoing_mail_id": outgoing_mail_id}


def add_event(session: Session, case_id: int, kind: str, actor: str, at: datetime,
              detail: dict | None = None, raw_message_id: int | None = None,
              outgoing_mail_id: int | None = None) -> CaseEvent:
    """One event as an object, flushed so its id is known (an answer's reply refers to it);
    the one-off events of a department's or customer's mail go this way too. Hot paths
    write `event_row`s with `add_events`."""
    event = CaseEvent(**event_row(case_id, kind, actor, at, detail, raw_message_id, outgoing_mail_id))
    session.add(event)
    session.flush()
    return event


def add_events(session: Session, rows: list[dict]) -> None:
    """`event_row`s in one multi-row INSERT, without objects or the unit of work: opening a
    case writes four or more, and every mail sent writes one."""
    if rows:
        session.execute(insert(CaseEvent.__table__), rows)


# Deadlines are written, and completed as mail goes out, by statements on the table: half
# the cost of ORM-enabled ones, which synchronise the session, and no caller there holds
# deadline objects. Cancelling (closing or reopening a case, whose deadlines a follow-up
# holds) is ORM-enabled, so those objects show it.
DEADLINES = Deadline.__table__


def add_deadlines(session: Session, case_id: int, planned: Iterable[tuple[str, datetime, datetime]],
                  round_: int = 0, met: dict[str, datetime] | None = None) -> None:
    """(stage, starts_at, due_at) deadlines of a handling round in one multi-row INSERT, five
    times cheaper than ORM objects (opening a case writes nine); a stage in `met` is written
    as done at that time."""
    met = met or {}
    session.execute(insert(DEADLINES), [
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


# Built once, the values bound per call (every forward sent completes a deadline).
_COMPLETE = (update(DEADLINES)
             .where(DEADLINES.c.case_id == bindparam("of_case"),
                    DEADLINES.c.stage.in_(bindparam("stages", expanding=True)),
                    DEADLINES.c.state == "pending")
             .values(state="done", done_at=bindparam("at")))


def complete_deadlines(session: Session, case_id: int, stages: tuple[str, ...], at: datetime) -> None:
    session.execute(_COMPLETE, {"of_case": case_id, "stages": list(stages), "at": at})


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


AUTO_REPLIES = SentAutoReply.__table__
_AUTO_REPLIES_SINCE = (select(func.count()).select_from(AUTO_REPLIES)
                       .where(AUTO_REPLIES.c.address == bindparam("address"),
                              AUTO_REPLIES.c.at >= bindparam("since")))


def auto_replies_since(session: Session, address: str, since: datetime) -> int:
    return session.scalar(_AUTO_REPLIES_SINCE, {"address": address, "since": since})


def note_auto_reply(session: Session, address: str, at: datetime, note: str) -> None:
    session.execute(insert(AUTO_REPLIES), {"address": address, "at": at, "note": note})
