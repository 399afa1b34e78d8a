"""Opening a case: the case, its first events, deadlines, attachments and outgoing mail, written
in the caller's one transaction. Jobs to send the mail are enqueued only after it commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Row
from sqlalchemy.orm import Session

from models.case_numbers import next_case_number
from models.case_queries import earlier_complaint_of_customer
from models.case_writes import add_deadlines, add_events, cancel_deadlines, event_row
from models.cases import Case
from models.mail import Attachment
from worker.cases import letters
from worker.cases.deadlines import plan_handling
from worker.cases.env import CaseEnv
from worker.intake.message import IntakeMessage
from worker.reply_tokens import make_token

# Kinds of mail that count towards the per-sender limit on automatic answers.
AUTO_ANSWERS = ("acknowledgement", "out_of_scope", "too_large")


def open_case(session: Session, env: CaseEnv, message: IntakeMessage, now: datetime,
              related_case_id: int | None = None) -> tuple[Case, list[int]]:
    """Writes the case and everything it causes; returns it with the outbox ids to send."""
    policy = env.policy
    case = _new_case(session, env, message, now, related_case_id)
    repeat_of = _earlier_case_of_same_customer(session, env, case, now)
    # The case's history so far, written in one INSERT at the end.
    events = [event_row(case.id, "opened", "system", now, {
        "matched_rules": message.routing_note, "copy_to": message.copy_to,
        "candidates": _candidates(message), "signals": _signals(message),
    }, raw_message_id=message.raw_id)]
    if repeat_of:
        case.repeat_of_id = repeat_of.id
        if policy.intake.repeat_raises_severity and case.severity == "normal":
            case.severity = "major"
        events.append(event_row(case.id, "repeat", "system", now, {"of": repeat_of.number}))
    attachment_names = _store_attachments(session, env, message, case)

    # The clock runs from receipt (受理), not from when a worker got round to the message.
    planned = plan_handling(policy, case.kind, case.severity, message.received_at)
    # Registering is this very step: its deadline is met as it is written.
    add_deadlines(session, case.id, [(d.stage, d.starts_at, d.due_at) for d in planned],
                  met={"register": now})
    due = {deadline.stage: deadline.due_at for deadline in planned}

    reply_to = env.reply_to(case.reply_token)
    drafts = []
    if message.out_of_scope is not None:
        case.status, case.closed_at = "out_of_scope", now
        case.out_of_scope_reason = message.out_of_scope.reason
        cancel_deadlines(session, case.id, now)
        drafts.append(letters.out_of_scope_answer(case, policy, reply_to, message.out_of_scope.reason))
        events.append(event_row(case.id, "out_of_scope", "system", now, {"rule": message.out_of_scope.name}))
    else:
        drafts.append(letters.acknowledgement(case, policy, reply_to, message.received_at, due["reply"]))
        drafts.append(letters.forward(case, policy, reply_to, message.received_at, due["answer"],
                                      message.body, attachment_names))
        for code in message.copy_to:
            drafts.append(_copy_forward(case, env, code, reply_to, message, due["answer"], attachment_names))
        if case.severity in ("major", "urgent"):
            drafts.append(letters.major_notice(case, policy, due["answer"], message.body, _signals(message)))
    queued = _queue(session, env, case, [d for d in drafts if d], now, events)
    add_events(session, events)
    return case, queued


def _new_case(session: Session, env: CaseEnv, message: IntakeMessage, now: datetime,
              related_case_id: int | None) -> Case:
    policy, parsed, fields, prediction = env.policy, message.parsed, message.fields, message.prediction
    opened_on = now.astimezone(policy.calendar.zone).date()
    number = next_case_number(session, policy.case_numbers.format, opened_on)
    case = Case(
        number=number, status="needs_review" if prediction.needs_review else "open",
        kind=message.labels["kind"], category=message.labels["category"],
        department=message.department, severity=message.labels["severity"],
        confidence={head: round(p.probability, 4) for head, p in prediction.heads.items()},
        model_version=message.model_version, needs_review=prediction.needs_review,
        complainant_name=fields.name or None, complainant_address=parsed.from_address,
        complainant_phones=list(fields.phones), channel="email", script=message.script,
        subject=parsed.subject or "", facts=message.body, complained_object=fields.object,
        asks=list(fields.asks), order_numbers=list(fields.order_numbers),
        amounts=[float(a) for a in fields.amounts],
        reply_token=make_token(env.signing_key, number), first_message_id=parsed.message_id,
        related_case_id=related_case_id, created_at=now, updated_at=now,
    )
    session.add(case)
    session.flush()
    return case


def _earlier_case_of_same_customer(session: Session, env: CaseEnv, case: Case,
                                   now: datetime) -> Row | None:
    """重复投诉: the same customer (address or phone) on the same category within the window."""
    if case.kind != "complaint":
        return None
    window = env.policy.calendar.add(now, env.policy.intake.repeat_window) - now
    return earlier_complaint_of_customer(session, case, now - window)


def _copy_forward(case, env, code, reply_to, message, reply_by, attachment_names):
    """A copy of the forward to a department that must sign off (policy routing rules)."""
    department = env.policy.departments[code]
    draft = letters.forward(case, env.policy, reply_to, message.received_at, reply_by,
                            message.body, attachment_names, dedup_suffix=f":copy:{code}")
    return replace(draft, to=[department.address])


def _store_attachments(session: Session, env: CaseEnv, message: IntakeMessage, case: Case) -> list[str]:
    names = []
    folder = env.storage_dir / "attachments" / str(message.raw_id)
    for number, attachment in enumerate(message.parsed.attachments, start=1):
        folder.mkdir(parents=True, exist_ok=True)
        stored_name = f"{number:02d}-{attachment.safe_name}"
        (folder / stored_name).write_bytes(attachment.data)
        session.add(Attachment(
            raw_message_id=message.raw_id, case_id=case.id, filename=attachment.filename or "",
            stored_name=f"attachments/{message.raw_id}/{stored_name}",
            content_type=attachment.content_type, size=len(attachment.data),
            sha256=hashlib.sha256(attachment.data).hexdigest(),
        ))
        names.append(attachment.filename or attachment.safe_name)
    return names


def _queue(session: Session, env: CaseEnv, case: Case, drafts, now: datetime,
           events: list[dict]) -> list[int]:
    """Writes the drafts to the outbox, each noted in `events`; automatic answers respect the
    per-sender hourly limit."""
    queued = []
    for draft in drafts:
        if draft.kind in AUTO_ANSWERS and not env.may_answer_automatically(
                session, draft.to[0], now, draft.kind):
            limit = env.policy.intake.auto_replies_per_sender_per_hour
            events.append(event_row(case.id, "auto_answer_suppressed", "system", now,
                                    {"notice": draft.kind, "reason": f"over {limit} an hour"}))
            continue
        for mail_id in env.queue(session, case.id, draft):
            queued.append(mail_id)
            events.append(event_row(case.id, f"queued_{draft.kind}", "system", now,
                                    {"to": draft.to}, outgoing_mail_id=mail_id))
    return queued


def _candidates(message: IntakeMessage) -> dict:
    return {head: [[label, round(p, 4)] for label, p in result.candidates]
            for head, result in message.prediction.heads.items()}


def _signals(message: IntakeMessage) -> list[str]:
    return [signal.reason for signal in message.prediction.signals]

