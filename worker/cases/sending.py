"""Sending outbox rows over one SMTP connection: per mail, claim it, deliver it outside any
transaction, record what happened. The record of one mail and the claim of the next share a
transaction (one a mail), and a worker that dies leaves at most the one mail it was
delivering to be sent again, once its lease has passed.

A sent forward completes the dispatch stage; a sent reply completes the reply stage and starts
the follow-up clock. A permanent failure is recorded on the row and the case, and the desk is
alerted once; it is never retried.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timedelta

from sqlalchemy import Row
from sqlalchemy.orm import Session

from models.case_writes import add_deadlines, add_event, add_events, complete_deadlines, event_row
from models.cases import Case
from models.db import Database
from models.outbox import claim_for_sending, defer, mark_failed, mark_sent
from worker.cases.deadlines import plan_stage
from worker.cases.env import CaseEnv
from worker.cases.replies import close
from worker.config import SmtpConfig
from worker.mailer import PermanentFailure, SmtpConnection, TemporaryFailure
from worker.notices import MailDraft, render

log = logging.getLogger("triage.mail")


def send_outgoing(db: Database, env: CaseEnv, smtp: SmtpConfig, mail_ids: list[int],
                  now: datetime) -> dict[int, str]:
    """Per mail id: 'sent', 'skipped' (another worker has it, or it is done), 'deferred' (a
    temporary failure: pending again, with a later attempt time) or 'failed' (for good)."""
    outcomes = dict.fromkeys(mail_ids, "skipped")
    waiting = deque(mail_ids)
    with db.transaction() as session:
        mail = _claim_next(session, waiting, now)
    with SmtpConnection(smtp) as connection:
        while mail is not None:
            outcome, detail = _deliver(connection, mail)
            with db.transaction() as session:
                _record(session, env, mail, outcome, detail, now)
                outcomes[mail.id] = outcome
                mail = _claim_next(session, waiting, now)
    return outcomes


def _claim_next(session: Session, waiting: deque[int], now: datetime) -> Row | None:
    """The next mail of the batch that is still pending, now this worker's."""
    while waiting:
        mail = claim_for_sending(session, waiting.popleft(), now)
        if mail is not None:
            return mail
    return None


def _deliver(connection: SmtpConnection, mail: Row) -> tuple[str, str | None]:
    """Hands the mail to the server, outside any transaction: the outcome, and the server's
    note or the error."""
    try:
        return "sent", connection.deliver(mail)
    except TemporaryFailure as error:
        return "deferred", str(error)
    except PermanentFailure as error:
        return "failed", str(error)


def _record(session: Session, env: CaseEnv, mail: Row, outcome: str, detail: str | None,
            now: datetime) -> None:
    if outcome == "sent":
        mark_sent(session, mail.id, now, detail)
        _after_sent(session, env, mail, now)
        log.info("mail %s (%s) sent for case %s", mail.id, mail.kind, mail.case_id)
    elif outcome == "deferred":
        defer(session, mail.id, detail, now + backoff(mail.attempts))
        log.warning("mail %s (%s) deferred: %s", mail.id, mail.kind, detail)
    else:
        _record_failure(session, env, mail, detail, now)
        log.error("mail %s (%s) failed for good: %s", mail.id, mail.kind, detail)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at an hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def _after_sent(session, env: CaseEnv, mail: Row, now: datetime) -> None:
    if mail.case_id is None:
        return
    if mail.kind == "forward":
        complete_deadlines(session, mail.case_id, ("dispatch",), now)
    elif mail.kind == "reply":
        # The customer has the result: the case is handled, within its overall limit or not.
        case = session.get(Case, mail.case_id)
        complete_deadlines(session, case.id, ("reply", "overall"), now)
        case.replied_at = now
        latest = next((e for e in reversed(case.events) if e.kind == "department_answer"), None)
        if latest is not None and latest.detail.get("closes"):
            close(session, env, case, now)
        elif case.kind in env.policy.lifecycle.follow_up_kinds:
            case.status = "replied"
            follow_up = plan_stage(env.policy, case.kind, case.severity, "follow_up", now)
            add_deadlines(session, case.id, [("follow_up", follow_up.starts_at, follow_up.due_at)],
                          round_=case.reopen_count)
        else:
            close(session, env, case, now)
    add_events(session, [event_row(mail.case_id, f"sent_{mail.kind}", "system", now,
                                   {"to": mail.to_addresses}, outgoing_mail_id=mail.id)])


def _record_failure(session, env: CaseEnv, mail: Row, error: str, now: datetime) -> None:
    mark_failed(session, mail.id, error)
    case = session.get(Case, mail.case_id) if mail.case_id else None
    if case is not None:
        add_event(session, case.id, "mail_failed", "system", now,
                  {"kind": mail.kind, "to": mail.to_addresses, "error": error}, outgoing_mail_id=mail.id)
    desk = env.policy.organisation.desk_address
    if mail.kind == "mail_failed" or desk in mail.to_addresses:
        return  # never alert about an alert: that is how loops start
    subject, text, html = render("mail_failed", {
        "case_number": case.number if case else None, "failed_kind": mail.kind,
        "failed_subject": mail.subject, "recipients": mail.to_addresses, "error": error,
    })
    env.queue(session, mail.case_id, MailDraft("mail_failed", [desk], subject, text, html,
                                               f"mail_failed:{mail.id}"))
