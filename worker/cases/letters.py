"""The notices a case causes, as MailDrafts: who gets what, with which headers (pure).

Deduplication keys are built from stable ids, so deciding the same thing twice (a retried
job, a second sweep) writes one mail.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from models.cases import Case
from worker.notices import MailDraft, chinese_date, render
from worker.policy import Policy
from worker.privacy import complainant_for_department, redact_for_department

STAGE_TITLES = {
    "register": "受理登记", "dispatch": "分派", "investigate": "调查核实", "resolve": "处理方案",
    "answer": "部门答复", "reply": "答复客户", "overall": "整体办结", "follow_up": "回访",
    "archive": "归档",
}

# What the complainant asks for (投诉请求), in the words departments read.
ASK_TITLES = {
    "refund": "退款", "compensation": "赔偿", "apology": "道歉", "redo_service": "重新服务",
    "explanation": "解释说明", "punish_staff": "处理相关人员", "repair": "维修", "replace": "更换",
    "invoice": "开具发票", "information": "提供信息",
}


def case_variables(case: Case, policy: Policy) -> dict:
    title = policy.label_title
    return {
        "number": case.number, "kind": case.kind, "severity": case.severity,
        "kind_title": title(case.kind), "category_title": title(case.category),
        "severity_title": title(case.severity), "subject": case.subject,
        "needs_review": case.needs_review, "reopen_count": case.reopen_count,
        "order_numbers": case.order_numbers, "asks": [ASK_TITLES.get(a, a) for a in case.asks],
        "object": case.complained_object,
    }


def _greeting(case: Case) -> str:
    return f"尊敬的{case.complainant_name}" if case.complainant_name else "尊敬的客户"


def _base(case: Case, policy: Policy) -> dict:
    return {"case": case_variables(case, policy), "org": policy.organisation.name,
            "greeting": _greeting(case)}


def _to_customer(case: Case, policy: Policy, notice: str, dedup_key: str, reply_to: str,
                 in_reply_to: str | None = None, **variables) -> MailDraft:
    subject, text, html = render(notice, {**_base(case, policy), **variables}, case.script)
    headers = {"Reply-To": reply_to}
    if in_reply_to:
        headers |= {"In-Reply-To": in_reply_to, "References": in_reply_to}
    return MailDraft(notice, [case.complainant_address], subject, text, html, dedup_key,
                     headers=headers)


def acknowledgement(case: Case, policy: Policy, reply_to: str, received_at: datetime,
                    promised_at: datetime) -> MailDraft:
    zone = policy.calendar.zone
    return _to_customer(case, policy, "acknowledgement", f"ack:{case.id}", reply_to,
                        case.first_message_id, received=chinese_date(received_at, zone, True),
                        promised=chinese_date(promised_at, zone))


def forward(case: Case, policy: Policy, reply_to: str, received_at: datetime, reply_by: datetime,
            text: str, attachments: list[str], occasion: str = "new", dedup_suffix: str = "",
            previous_department: str = "", note: str = "") -> MailDraft:
    """To the department, or to its head when a staff member is complained about (recusal)."""
    zone = policy.calendar.zone
    department = policy.departments[case.department]
    staff_case = case.category == "staff_misconduct" or (
        case.department == "hr" and case.kind == "complaint")
    to = department.head if staff_case and policy.routing.staff_complaints_to_head else department.address
    confidence = "、".join(f"{head} {p:.0%}" for head, p in (case.confidence or {}).items())
    subject, body, html = render("forward", {
        **_base(case, policy), "department": department.name, "occasion": occasion,
        "received": chinese_date(received_at, zone, True), "reply_by": chinese_date(reply_by, zone, True),
        "confidence": confidence or "—", "complainant": complainant_for_department(case, policy),
        "text": redact_for_department(text, case, policy), "attachments": attachments,
        "previous_department": previous_department,
        "note": note,
    })
    key = f"forward:{case.id}:{case.department}:{occasion}:{case.reopen_count}{dedup_suffix}"
    return MailDraft("forward", [to], subject, body, html, key, headers={"Reply-To": reply_to})


def major_notice(case: Case, policy: Policy, reply_by: datetime, text: str,
                 signals: list[str]) -> MailDraft | None:
    recipients = [*policy.organisation.management, *policy.organisation.legal]
    if not recipients:
        return None
    subject, body, html = render("major_notice", {
        **_base(case, policy), "department": policy.department_title(case.department),
        "reply_by": chinese_date(reply_by, policy.calendar.zone, True), "text": text,
        "signals": signals,
    })
    return MailDraft("major_notice", recipients, subject, body, html, f"major:{case.id}")


def reminder(case: Case, policy: Policy, stage: str, due_at: datetime, round_: int,
             reply_to: str) -> MailDraft:
    department = policy.departments[case.department]
    subject, body, html = render("reminder", {
        **_base(case, policy), "department": department.name,
        "stage_title": STAGE_TITLES[stage], "due": chinese_date(due_at, policy.calendar.zone, True),
    })
    to = policy.organisation.desk_address if stage == "reply" else department.address
    key = f"reminder:{case.id}:{stage}:{round_}:{due_at.isoformat()}"
    return MailDraft("reminder", [to], subject, body, html, key, headers={"Reply-To": reply_to})


def escalation(case: Case, policy: Policy, stage: str, due_at: datetime, round_: int,
               level: int, reply_to: str) -> MailDraft:
    """Level 1 to the department head, level 2 to management."""
    department = policy.departments[case.department]
    if level == 1:
        to, addressee = [department.head], f"{department.name}负责人"
    else:
        to, addressee = policy.organisation.management or [department.head], "各位领导"
    subject, body, html = render("escalation", {
        **_base(case, policy), "department": department.name, "addressee": addressee,
        "stage_title": STAGE_TITLES[stage], "due": chinese_date(due_at, policy.calendar.zone, True),
        "level": level,
    })
    key = f"escalation:{case.id}:{stage}:{round_}:{level}:{due_at.isoformat()}"
    return MailDraft("escalation", to, subject, body, html, key, headers={"Reply-To": reply_to})


def customer_reply(case: Case, policy: Policy, answer: str, reply_to: str, answer_ref: int) -> MailDraft:
    """The department's answer, to the customer, with the desk in copy."""
    draft = _to_customer(case, policy, "reply", f"reply:{case.id}:{answer_ref}", reply_to,
                         case.first_message_id, answer=answer)
    return replace(draft, cc=[policy.organisation.desk_address])


def approval_request(case: Case, policy: Policy, answer: str, reply_to: str, answer_ref: int) -> MailDraft:
    subject, body, html = render("approval", {
        **_base(case, policy), "department": policy.department_title(case.department), "answer": answer,
    })
    return MailDraft("approval", [policy.organisation.desk_address], subject, body, html,
                     f"approval:{case.id}:{answer_ref}", headers={"Reply-To": reply_to})


def follow_up(case: Case, policy: Policy, reply_to: str, replied_at: datetime) -> MailDraft:
    return _to_customer(case, policy, "follow_up", f"follow_up:{case.id}:{case.reopen_count}",
                        reply_to, case.first_message_id,
                        replied=chinese_date(replied_at, policy.calendar.zone))


def extension_notice(case: Case, policy: Policy, reply_to: str, extension: str, reason: str,
                     promised_at: datetime, ref: int) -> MailDraft:
    return _to_customer(case, policy, "extension", f"extension:{case.id}:{ref}", reply_to,
                        case.first_message_id, extension=extension, reason=reason,
                        promised=chinese_date(promised_at, policy.calendar.zone))


def out_of_scope_answer(case: Case, policy: Policy, reply_to: str, reason: str) -> MailDraft:
    return _to_customer(case, policy, "out_of_scope", f"out_of_scope:{case.id}", reply_to,
                        case.first_message_id, reason=reason)
