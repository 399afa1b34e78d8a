"""The deadline sweep, as of a given moment: reminders, escalations, follow-ups, archiving.

Run every minute by the `deadlines.sweep` job, or by `triage sweep --at TIME`. Running it
twice for the same moment changes nothing: each reminder and escalation has a deduplication
key built from the case, stage, round and due time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases import Case, Deadline
from worker.cases import letters
from worker.cases.deadlines import reminder_moment
from worker.cases.env import CaseEnv
from worker.cases.replies import close, compose_reply

# Stages somebody must act on: reminded before they fall due, escalated after.
REMINDED = ("investigate", "resolve", "answer", "reply")
ESCALATED = (*REMINDED, "overall")


@dataclass
class SweepResult:
    mail_ids: list[int] = field(default_factory=list)
    # Jobs for the named actors, enqueued after the sweep's transaction commits.
    follow_up_case_ids: list[int] = field(default_factory=list)
    reply_case_ids: list[int] = field(default_factory=list)


def sweep(session: Session, env: CaseEnv, now: datetime) -> SweepResult:
    """Reminders and escalations due as of `now`; follow-ups that are due, and replies left
    uncomposed by a crash, are handed to their jobs. Archiving is the `cases.archive` job."""
    result = SweepResult()
    queued = result.mail_ids
    due_rows = session.execute(
        select(Deadline, Case).join(Case, Deadline.case_id == Case.id)
        .where(Deadline.state == "pending", Deadline.starts_at <= now)
        .order_by(Deadline.due_at)
    ).all()
    for deadline, case in due_rows:
        if deadline.stage in REMINDED:
            queued += _remind(session, env, case, deadline, now)
        if deadline.stage in ESCALATED:
            queued += _escalate(session, env, case, deadline, now)
        if deadline.stage == "follow_up" and now >= deadline.due_at:
            result.follow_up_case_ids.append(case.id)
    result.reply_case_ids = list(session.scalars(select(Case.id).where(Case.status == "answered")))
    return result


def archive(case: Case, deadline: Deadline, now: datetime) -> None:
    deadline.state, deadline.done_at = "done", now
    case.status, case.archived_at = "archived", now


def _remind(session, env, case, deadline, now) -> list[int]:
    if deadline.reminded_at or now < reminder_moment(env.policy, deadline.starts_at, deadline.due_at):
        return []
    deadline.reminded_at = now
    return env.queue(session, case.id, letters.reminder(case, env.policy, deadline.stage,
                                                       deadline.due_at, deadline.round,
                                                       env.reply_to(case.reply_token)))


def _escalate(session, env, case, deadline, now) -> list[int]:
    """Overdue: the department head once, then management once, per stage and round."""
    queued = []
    to_management = env.policy.calendar.add(deadline.due_at,
                                            env.policy.reminders.escalate_to_management_after)
    for level, moment in ((1, deadline.due_at), (2, to_management)):
        if deadline.escalation_level < level and now >= moment:
            deadline.escalation_level = level
            queued += env.queue(session, case.id, letters.escalation(
                case, env.policy, deadline.stage, deadline.due_at, deadline.round, level,
                env.reply_to(case.reply_token)))
    return queued


def follow_up(session: Session, env: CaseEnv, case: Case, now: datetime) -> list[int]:
    """The satisfaction question, once its time has come; the case closes, and an
    unsatisfied answer within the reopen window reopens it."""
    due = [d for d in case.deadlines if d.stage == "follow_up" and d.state == "pending" and d.due_at <= now]
    if not due:
        return []
    for deadline in due:
        deadline.state, deadline.done_at = "done", now
    queued = env.queue(session, case.id, letters.follow_up(case, env.policy,
                                                          env.reply_to(case.reply_token),
                                                          case.replied_at or now))
    close(session, env, case, now)
    return queued


def reply_for_latest_answer(session: Session, env: CaseEnv, case: Case, now: datetime) -> list[int]:
    """Recovery and approval: the reply of the case's latest answer, if not composed yet."""
    if case.status != "answered":
        return []
    latest = next((e for e in reversed(case.events) if e.kind == "department_answer"), None)
    return compose_reply(session, env, case, latest, now) if latest else []
