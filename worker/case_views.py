"""Cases as plain dicts for people and scripts (CLI tables, JSON, the demo's summary)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from models.cases import Case
from models.mail import OutgoingMail, RawMessage


def local_iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="minutes") if moment else None


def case_row(case: Case, next_due: datetime | None, tz: ZoneInfo) -> dict:
    """The fields of `triage cases list`."""
    return {
        "number": case.number,
        "status": case.status,
        "kind": case.kind,
        "category": case.category,
        "department": case.department,
        "severity": case.severity,
        "needs_review": case.needs_review,
        "customer": case.complainant_address,
        "created_at": local_iso(case.created_at, tz),
        "next_due": local_iso(next_due, tz),
    }


def case_detail(case: Case, incoming: list[RawMessage], outgoing: list[OutgoingMail],
                tz: ZoneInfo) -> dict:
    """Everything `triage cases show` prints: the record, its deadlines and its history."""
    history = [
        {"at": event.at, "what": f"event {event.kind} by {event.actor} {event.detail or ''}".rstrip()}
        for event in case.events
    ]
    history += [
        {"at": mail.received_at, "what": f"mail in #{mail.id} ({mail.status}) {mail.message_id}"}
        for mail in incoming
    ]
    history += [
        {"at": mail.sent_at or mail.created_at,
         "what": f"mail out #{mail.id} {mail.kind} to {', '.join(mail.to_addresses)} "
                 f"[{mail.status}] {mail.subject}"}
        for mail in outgoing
    ]
    history.sort(key=lambda item: item["at"])
    return {
        **case_row(case, None, tz),
        "name": case.complainant_name,
        "phones": case.complainant_phones,
        "subject": case.subject,
        "facts": case.facts,
        "object": case.complained_object,
        "asks": case.asks,
        "order_numbers": case.order_numbers,
        "amounts": case.amounts,
        "confidence": case.confidence,
        "model_version": case.model_version,
        "reopen_count": case.reopen_count,
        "repeat_of": case.repeat_of_id,
        "deadlines": [
            {"stage": d.stage, "round": d.round, "due_at": local_iso(d.due_at, tz),
             "state": d.state, "done_at": local_iso(d.done_at, tz)}
            for d in case.deadlines
        ],
        "history": [{"at": local_iso(item["at"], tz), "what": item["what"]} for item in history],
    }
