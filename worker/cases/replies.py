"""Mail on an existing case: a department's answer or command, the desk's approval, or the
customer adding information, reacting to the answer, or writing again after closing.

Each function runs inside the caller's transaction and returns the outbox ids it queued.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models.case_writes import (
    add_deadlines,
    add_event,
    cancel_deadlines,
    complete_deadlines,
    pending_deadlines,
    record_correction,
)
from models.cases import Case, CaseEvent
from worker.cases import letters
from worker.cases.commands import read_department_reply, read_satisfaction
from worker.cases.deadlines import DEPARTMENT_STAGES, extended, plan_handling, plan_stage
from worker.cases.env import CaseEnv
from worker.intake.message import IntakeMessage

CLOSED = ("closed", "archived", "out_of_scope")
# Stages an extension moves: the department's own and everything after them.
EXTENDABLE = (*DEPARTMENT_STAGES, "reply", "overall")


def handle_case_message(session: Session, env: CaseEnv, message: IntakeMessage, case: Case,
                        now: datetime) -> list[int] | None:
    """The outbox ids queued; None when the message must open a new case linked to this one."""
    actor = message.parsed.from_address
    if message.sender_role in ("department", "desk"):
        return _staff_reply(session, env, message, case, now, actor)
    return _customer_message(session, env, message, case, now, actor)


def _staff_reply(session, env, message, case, now, actor) -> list[int]:
    command = read_department_reply(message.body)
    if command.action == "approve" or (message.sender_role == "desk" and _awaiting_approval(case)):
        answer = command.text if command.action != "approve" else None
        return approve_reply(session, env, case, now, actor, message.raw_id, answer)
    if command.action == "reassign":
        return _reassign(session, env, message, case, now, actor, command)
    if command.action == "extend":
        return _extend(session, env, case, now, actor, message.raw_id, command)
    event = add_event(session, case.id, "department_answer", actor, now,
                      {"text": command.text, "closes": command.action == "close"},
                      raw_message_id=message.raw_id)
    complete_deadlines(session, case.id, ("dispatch", *DEPARTMENT_STAGES), now)
    case.status, case.answered_at = "answered", now
    return compose_reply(session, env, case, event, now)


def _awaiting_approval(case: Case) -> bool:
    return case.status == "answered" and any(e.kind == "approval_requested" for e in case.events)


def compose_reply(session: Session, env: CaseEnv, case: Case, answer: CaseEvent,
                  now: datetime) -> list[int]:
    """The department's answer to the customer, or to the desk first when the policy says so."""
    reply_to = env.reply_to(case.reply_token)
    needs_approval = env.policy.lifecycle.reply_requires_approval and not answer.detail.get("approved")
    if needs_approval:
        draft = letters.approval_request(case, env.policy, answer.detail["text"], reply_to, answer.id)
    else:
        draft = letters.customer_reply(case, env.policy, answer.detail["text"], reply_to, answer.id)
    queued = env.queue(session, case.id, draft)  # empty when composed before (a retry, a sweep)
    if queued and needs_approval:
        add_event(session, case.id, "approval_requested", "system", now, {"answer_event": answer.id})
    return queued


def approve_reply(session, env, case, now, actor, raw_id, replacement: str | None) -> list[int]:
    latest = next((e for e in reversed(case.events) if e.kind == "department_answer"), None)
    if latest is None:
        add_event(session, case.id, "approval_without_answer", actor, now, raw_message_id=raw_id)
        return []
    text = replacement or latest.detail["text"]
    approved = add_event(session, case.id, "department_answer", actor, now,
                         {"text": text, "approved": True, "closes": latest.detail.get("closes", False),
                          "edited": bool(replacement)}, raw_message_id=raw_id)
    return compose_reply(session, env, case, approved, now)


def _reassign(session, env, message, case, now, actor, command) -> list[int]:
    target = _department_code(env, command.target)
    if target is None:
        add_event(session, case.id, "reassign_refused", actor, now,
                  {"target": command.target, "reason": "unknown department"},
                  raw_message_id=message.raw_id)
        return []
    previous = case.department
    # A department saying "not ours" is a label correction: training data for the next model.
    record_correction(session, case, "department", target, actor, "department", now)
    add_event(session, case.id, "reassigned", actor, now, {"from": previous, "to": target,
                                                         "note": command.text},
              raw_message_id=message.raw_id)
    return forward_to_new_department(session, env, case, previous, command.text,
                                     f"{message.raw_id}", now)


def forward_to_new_department(session: Session, env: CaseEnv, case: Case, previous: str, note: str,
                              ref: str, now: datetime) -> list[int]:
    """The case, to the department it now belongs to, with the deadline it still has."""
    answer_due = next((d.due_at for d in pending_deadlines(session, case.id, ("answer",))), now)
    draft = letters.forward(case, env.policy, env.reply_to(case.reply_token), case.created_at,
                            answer_due, case.facts, [], occasion="reassigned",
                            dedup_suffix=f":{ref}",
                            previous_department=env.policy.department_title(previous), note=note)
    return env.queue(session, case.id, draft)


def _department_code(env: CaseEnv, named: str) -> str | None:
    named = named.strip().lower()
    for code, department in env.policy.departments.items():
        if named in (code, department.name.lower(), department.address.lower()):
            return code
    return None


def _extend(session, env, case, now, actor, raw_id, command) -> list[int]:
    """延期: every remaining deadline moves; the customer is told the new date (第十七条)."""
    moved = pending_deadlines(session, case.id, EXTENDABLE)
    late = any(d.due_at < now for d in moved if d.stage in DEPARTMENT_STAGES)
    for deadline in moved:
        deadline.due_at = extended(env.policy, deadline.due_at, command.extension)
        deadline.extended_by = str(command.extension)
    event = add_event(session, case.id, "extended", actor, now,
                      {"by": str(command.extension), "reason": command.text, "late": late},
                      raw_message_id=raw_id)
    promised = next((d.due_at for d in moved if d.stage == "reply"), None)
    if promised is None:
        return []
    draft = letters.extension_notice(case, env.policy, env.reply_to(case.reply_token),
                                     str(command.extension).replace(" working days", " 个工作日")
                                     .replace(" working day", " 个工作日"),
                                     command.text, promised, event.id)
    return env.queue(session, case.id, draft)


def _customer_message(session, env, message, case, now, actor) -> list[int] | None:
    satisfaction = read_satisfaction(message.body)
    if case.status in CLOSED:
        if satisfaction == "satisfied":
            add_event(session, case.id, "satisfaction", actor, now, {"value": "satisfied"},
                      raw_message_id=message.raw_id)
            return []
        closed_at = case.closed_at or case.updated_at
        if case.status == "out_of_scope" or now > env.policy.calendar.add(
                closed_at, env.policy.intake.reopen_window):
            return None
        # Writing again on a closed case within the window is a verdict too (statistics count it).
        add_event(session, case.id, "satisfaction", actor, now, {"value": "unsatisfied"},
                  raw_message_id=message.raw_id)
        return reopen(session, env, case, now, actor, message.raw_id, message.body)
    if case.status == "replied" and satisfaction:
        add_event(session, case.id, "satisfaction", actor, now, {"value": satisfaction},
                  raw_message_id=message.raw_id)
        if satisfaction == "unsatisfied":
            return reopen(session, env, case, now, actor, message.raw_id, message.body)
        close(session, env, case, now)
        return []
    return _information_added(session, env, message, case, now, actor)


def _information_added(session, env, message, case, now, actor) -> list[int]:
    add_event(session, case.id, "customer_information", actor, now, {"text": message.body},
              raw_message_id=message.raw_id)
    answer_due = next((d.due_at for d in pending_deadlines(session, case.id, ("answer",))), now)
    draft = letters.forward(case, env.policy, env.reply_to(case.reply_token), message.received_at,
                            answer_due, message.body,
                            [a.filename for a in message.parsed.attachments], occasion="info",
                            dedup_suffix=f":{message.raw_id}")
    return env.queue(session, case.id, draft)


def reopen(session, env, case, now, actor, raw_id, text) -> list[int]:
    """二次处理: a new round of deadlines from now, and the department hears of it."""
    cancel_deadlines(session, case.id, now)
    case.reopen_count += 1
    case.status, case.closed_at = "reopened", None
    add_deadlines(session, case.id, [(planned.stage, planned.starts_at, planned.due_at)
                                     for planned in plan_handling(env.policy, case.kind, case.severity, now)
                                     if planned.stage != "register"], round_=case.reopen_count)
    add_event(session, case.id, "reopened", actor, now, {"text": text, "round": case.reopen_count},
              raw_message_id=raw_id)
    answer_due = next(d.due_at for d in pending_deadlines(session, case.id, ("answer",)))
    draft = letters.forward(case, env.policy, env.reply_to(case.reply_token), now, answer_due,
                            f"{text}\n\n—— 原投诉 ——\n{case.facts}", [], occasion="reopened")
    return env.queue(session, case.id, draft)


def close(session: Session, env: CaseEnv, case: Case, now: datetime) -> None:
    """Closed: remaining deadlines end, and the archive clock starts."""
    cancel_deadlines(session, case.id, now)
    case.status, case.closed_at = "closed", now
    archive = plan_stage(env.policy, case.kind, case.severity, "archive", now)
    add_deadlines(session, case.id, [("archive", archive.starts_at, archive.due_at)],
                  round_=case.reopen_count)
    add_event(session, case.id, "closed", "system", now)
