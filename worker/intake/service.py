"""Processing stored raw messages: run the steps over a batch, then apply the outcome in one
transaction.

Failures are states on the raw message, never losses: `unparseable` when nothing could be
read, `failed` with the step's name and the traceback when a step raised. The bytes stay, and
`triage mail retry` replays them.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, replace
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import case_queries
from models.base import utcnow
from models.cases import Case
from models.mail import RawMessage
from models.raw_messages import claim_raw_messages, settle_raw_message
from worker.cases.opening import open_case
from worker.cases.replies import handle_case_message
from worker.intake.context import IntakeContext
from worker.intake.message import Discard, IntakeMessage, Unparseable
from worker.intake.steps import STEPS, StepFailed, Stop, run_steps
from worker.notices import MailDraft, chinese_date, render

log = logging.getLogger("triage.intake")


@dataclass(frozen=True)
class SessionLookups:
    """The steps' read-only questions, answered before the batch's write transaction."""

    session: Session

    def case_for_message_ids(self, message_ids: list[str]) -> int | None:
        return case_queries.case_id_for_message_ids(self.session, message_ids)

    def case_for_token(self, token: str) -> int | None:
        return case_queries.case_id_for_token(self.session, token)

    def case_for_number(self, number: str) -> int | None:
        return case_queries.case_id_for_number(self.session, number)


def process_raw_messages(app, raw_ids: list[int], now: datetime | None = None) -> list[int]:
    """Handles a batch of stored messages exactly once; returns the outbox ids to send.

    The steps run outside any write transaction, so the poller never waits for SQLite's one
    writer while a batch is classified. The outcome is then applied in one short transaction
    that first claims the messages: one another worker has taken meanwhile is left to it.
    """
    now = now or utcnow()
    messages = _load_new(app.db, raw_ids)
    if not messages:
        return []
    with app.db.sessions() as reading:
        stopped = run_steps(messages, _context(app, reading))
    return _apply_or_mark(app, messages, stopped, now)


def _load_new(db, raw_ids: list[int]) -> list[IntakeMessage]:
    with db.sessions() as session:
        rows = session.execute(
            select(RawMessage.id, RawMessage.raw, RawMessage.received_at)
            .where(RawMessage.id.in_(raw_ids), RawMessage.status == "new").order_by(RawMessage.id)
        ).all()
    return [IntakeMessage(raw_id=row.id, raw=row.raw, received_at=row.received_at) for row in rows]


def _context(app, session: Session) -> IntakeContext:
    return IntakeContext(app.policy, app.classifiers, SessionLookups(session), app.env)


def _apply_or_mark(app, messages: list[IntakeMessage], stopped: dict[int, Stop],
                   now: datetime) -> list[int]:
    """One transaction for the batch; if it fails, one per message, so that only the message
    at fault is marked `failed` (step `apply`) and the others still become cases."""
    try:
        with app.db.transaction() as session:
            claimed = claim_raw_messages(session, [message.raw_id for message in messages])
            return [mail_id for message in messages if message.raw_id in claimed
                    for mail_id in _apply(session, app, message, stopped.get(message.raw_id), now)]
    except Exception as error:
        if len(messages) > 1:
            log.warning("applying a batch of %d messages failed (%r); one at a time", len(messages), error)
            return [mail_id for message in messages
                    for mail_id in _apply_or_mark(app, [message], stopped, now)]
        raw_id = messages[0].raw_id
        with app.db.transaction() as session:
            if claim_raw_messages(session, [raw_id]):  # not if another worker has done it since
                settle_raw_message(session, raw_id, "failed", _trace(error), now, failed_step="apply")
        log.exception("raw message %s failed while applying its outcome", raw_id)
        return []


def _apply(session: Session, app, message: IntakeMessage, stop: Stop | None, now: datetime) -> list[int]:
    raw_id = message.raw_id
    if isinstance(stop, StepFailed):
        settle_raw_message(session, raw_id, "failed", _trace(stop.error), now, failed_step=stop.step)
        log.error("raw message %s failed in step %s: %r", raw_id, stop.step, stop.error)
        return []
    if isinstance(stop, Discard):
        settle_raw_message(session, raw_id, "ignored", stop.reason, now)
        log.info("raw message %s ignored: %s", raw_id, stop.reason)
        return _sender_notice(session, app, message, stop, now)
    if isinstance(stop, Unparseable):
        settle_raw_message(session, raw_id, "unparseable", str(stop), now)
        log.warning("raw message %s unparseable: %s", raw_id, stop)
        return []
    related_id = None
    if message.case_id is not None:
        case = session.get(Case, message.case_id)
        queued = handle_case_message(session, app.env, message, case, now)
        if queued is not None:
            settle_raw_message(session, raw_id, "processed",
                               f"added to {case.number} ({message.matched_by})", now, case.id)
            return queued
        # Written long after closing: a new case, linked to the old one. A copy, so that
        # applying this message again (alone, after its batch failed) finds it as it came.
        related_id, message = case.id, replace(message, case_id=None)
        for step_name in ("classify", "extract-fields", "route"):
            _run_named(step_name, message, _context(app, session))
    case, queued = open_case(session, app.env, message, now, related_case_id=related_id)
    settle_raw_message(session, raw_id, "processed", f"opened {case.number}", now, case.id)
    return queued


def _run_named(step_name: str, message: IntakeMessage, context: IntakeContext) -> None:
    next(step for step in STEPS if step.name == step_name).run(message, context)


def _sender_notice(session: Session, app, message: IntakeMessage, discard: Discard,
                   now: datetime) -> list[int]:
    """The polite note a discarded message may still earn (today: mail over the size limit)."""
    if discard.notice != "too_large":
        return []
    headers = BytesHeaderParser(policy=default_policy).parsebytes(message.raw)
    sender = parseaddr(str(headers.get("From", "")))[1].lower()
    if not sender or not app.env.may_answer_automatically(session, sender, now, "too_large"):
        return []
    subject, text, html = render("too_large", {
        "org": app.policy.organisation.name,
        "received": chinese_date(message.received_at, app.policy.calendar.zone, True),
        "size_mb": f"{len(message.raw) / 1e6:.1f}",
        "limit_mb": f"{app.policy.intake.max_message_bytes / 1e6:.0f}",
    })
    draft = MailDraft("too_large", [sender], subject, text, html, f"too_large:{message.raw_id}")
    return app.env.queue(session, None, draft)


def _trace(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))[-8000:]


def retry_raw_messages(app, raw_ids: list[int]) -> list[int]:
    """Puts failed or unparseable messages back to `new`, for the next processing run."""
    with app.db.transaction() as session:
        session.execute(update(RawMessage)
                        .where(RawMessage.id.in_(raw_ids),
                               RawMessage.status.in_(("failed", "unparseable")))
                        .values(status="new", failed_step=None))
    return raw_ids
