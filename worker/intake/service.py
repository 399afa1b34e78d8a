"""Processing one stored raw message: run the steps, then apply the outcome in one transaction.

Failures are states on the raw message, never losses: `unparseable` when nothing could be
read, `failed` with the step's name and the traceback when a step raised. The bytes stay, and
`triage mail retry` replays them.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr

from sqlalchemy import update
from sqlalchemy.orm import Session

from models import case_queries
from models.base import utcnow
from models.cases import Case
from models.mail import RawMessage
from models.raw_messages import claim_raw_message
from worker.cases.opening import open_case
from worker.cases.replies import handle_case_message
from worker.intake.context import IntakeContext
from worker.intake.message import Discard, IntakeMessage, Unparseable
from worker.intake.steps import STEPS, StepFailed, run_steps
from worker.notices import MailDraft, chinese_date, render

log = logging.getLogger("triage.intake")


@dataclass(frozen=True)
class SessionLookups:
    """The steps' read-only questions, answered in the processing transaction."""

    session: Session

    def case_for_message_ids(self, message_ids: list[str]) -> int | None:
        return case_queries.case_id_for_message_ids(self.session, message_ids)

    def case_for_token(self, token: str) -> int | None:
        return case_queries.case_id_for_token(self.session, token)

    def case_for_number(self, number: str) -> int | None:
        return case_queries.case_id_for_number(self.session, number)


def process_raw_message(app, raw_id: int, now: datetime | None = None) -> list[int]:
    """Handles one stored message exactly once; returns the outbox ids to send."""
    now = now or utcnow()
    try:
        with app.db.transaction() as session:
            return _process(session, app, raw_id, now)
    except StepFailed as failure:
        _mark(app, raw_id, "failed", failure.step, _trace(failure.error))
        log.error("raw message %s failed in step %s: %r", raw_id, failure.step, failure.error)
    except Exception as error:
        _mark(app, raw_id, "failed", "apply", _trace(error))
        log.exception("raw message %s failed while applying its outcome", raw_id)
    return []


def _process(session: Session, app, raw_id: int, now: datetime) -> list[int]:
    if not claim_raw_message(session, raw_id):
        return []  # done already, or another worker has it
    raw = session.get(RawMessage, raw_id)
    message = IntakeMessage(raw_id=raw.id, raw=raw.raw, received_at=raw.received_at)
    context = IntakeContext(app.policy, app.classifiers, SessionLookups(session), app.env)
    try:
        run_steps(message, context)
    except Discard as discard:
        _settle(raw, "ignored", discard.reason, now)
        log.info("raw message %s ignored: %s", raw_id, discard.reason)
        return _sender_notice(session, app, message, discard, now)
    except Unparseable as error:
        _settle(raw, "unparseable", str(error), now)
        log.warning("raw message %s unparseable: %s", raw_id, error)
        return []
    if message.case_id is not None:
        case = session.get(Case, message.case_id)
        queued = handle_case_message(session, app.env, message, case, now)
        if queued is not None:
            _settle(raw, "processed", f"added to {case.number} ({message.matched_by})", now, case.id)
            return queued
        # Written long after closing: a new case, linked to the old one.
        related_id, message.case_id = case.id, None
        for step_name in ("classify", "extract-fields", "route"):
            _run_named(step_name, message, context)
        case, queued = open_case(session, app.env, message, now, related_case_id=related_id)
    else:
        case, queued = open_case(session, app.env, message, now)
    _settle(raw, "processed", f"opened {case.number}", now, case.id)  # also sets raw.case_id
    return queued


def _run_named(step_name: str, message: IntakeMessage, context: IntakeContext) -> None:
    next(step for step in STEPS if step.name == step_name).run(message, context)


def _settle(raw: RawMessage, status: str, reason: str, now: datetime, case_id: int | None = None) -> None:
    raw.status, raw.reason, raw.processed_at = status, reason, now
    raw.failed_step = None
    if case_id is not None:
        raw.case_id = case_id


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


def _mark(app, raw_id: int, status: str, step: str, reason: str) -> None:
    with app.db.transaction() as session:
        session.execute(update(RawMessage).where(RawMessage.id == raw_id)
                        .values(status=status, failed_step=step, reason=reason,
                                attempts=RawMessage.attempts + 1))


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
