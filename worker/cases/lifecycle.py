"""Transactions around the case services, for the jobs and the CLI: each commits, then hands
back what must be enqueued."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from models.cases import Case, Deadline
from models.outbox import mails_to_send, release_stale
from models.raw_messages import unprocessed_batches
from worker.cases import sweep as sweeping

# A stored message still `new` this long was never handed to a job (a crash, or the
# in-process broker's memory lost on exit).
INTAKE_GRACE = timedelta(seconds=30)


def run_sweep(app, now: datetime, send: Callable[[list[int]], None],
              follow_up_job: Callable[..., object], reply_job: Callable[..., object],
              open_job: Callable[[list[int]], object] | None = None) -> sweeping.SweepResult:
    with app.db.transaction() as session:
        result = sweeping.sweep(session, app.env, now)
    send(result.mail_ids)
    at = now.isoformat()
    for case_id in result.follow_up_case_ids:
        follow_up_job(case_id, at)
    for case_id in result.reply_case_ids:
        reply_job(case_id, at)
    recover(app, now, send, open_job)
    return result


def recover(app, now: datetime, send: Callable[[list[int]], None],
            open_job: Callable[[list[int]], object] | None) -> None:
    """Re-enqueues what a crash left behind: the database knows, the broker may not."""
    with app.db.transaction() as session:
        lease = timedelta(seconds=app.config.worker.sending_lease)
        mail_ids = mails_to_send(session, now, lease)
        release_stale(session, mail_ids, claimed_before=now - lease)
        stranded = unprocessed_batches(session, received_before=now - INTAKE_GRACE)
    send(mail_ids)
    if open_job is not None:
        for batch in stranded:
            open_job(batch)


def follow_up(app, case_id: int, now: datetime) -> list[int]:
    with app.db.transaction() as session:
        return sweeping.follow_up(session, app.env, session.get(Case, case_id), now)


def reply_for_latest_answer(app, case_id: int, now: datetime) -> list[int]:
    with app.db.transaction() as session:
        return sweeping.reply_for_latest_answer(session, app.env, session.get(Case, case_id), now)


def archive_due(app, now: datetime) -> int:
    """Closed cases whose archive deadline has passed become `archived`."""
    with app.db.transaction() as session:
        rows = session.execute(
            select(Deadline, Case).join(Case, Deadline.case_id == Case.id)
            .where(Deadline.stage == "archive", Deadline.state == "pending", Deadline.due_at <= now)
        ).all()
        for deadline, case in rows:
            sweeping.archive(case, deadline, now)
    return len(rows)
