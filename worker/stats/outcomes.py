"""How cases ended: first-contact resolution, repeat complaints, reopenings, satisfaction (pure).

The first three are about the cases opened in the period, as they stand when the report is
made; satisfaction is about the follow-ups sent and the verdicts given in the period.
"""

from __future__ import annotations

from datetime import datetime

from worker.stats.periods import Period
from worker.stats.rows import CaseRow, EventRow, Ratio, ratio

CLOSED = ("closed", "archived")


def department_answers(events: list[EventRow]) -> int:
    """Answers a department gave; the desk's approval re-records an answer, not a new one."""
    return sum(1 for e in events if e.kind == "department_answer" and not e.detail.get("approved"))


def first_contact_resolution(cases: list[CaseRow], events: dict[int, list[EventRow]]) -> Ratio:
    """一次解决率: of the closed cases a department answered, those closed after exactly one
    answer, never reopened (so no second handling) and with no second answer (so the customer
    did not have to add information or chase)."""
    answered = [c for c in cases if c.status in CLOSED and department_answers(events.get(c.id, [])) >= 1]
    return ratio(c.reopen_count == 0 and department_answers(events.get(c.id, [])) == 1
                 for c in answered)


def repeat_complaints(cases: list[CaseRow]) -> Ratio:
    """重复投诉率: complaints linked to an earlier complaint of the same customer / complaints."""
    complaints = [c for c in cases if c.kind == "complaint"]
    return ratio(c.repeat_of_id is not None for c in complaints)


def reopenings(cases: list[CaseRow]) -> Ratio:
    """Cases reopened at least once / cases whose answer reached the customer."""
    return ratio(c.reopen_count > 0 for c in cases if c.replied_at is not None)


def verdicts(case: CaseRow, events: list[EventRow]) -> list[tuple[datetime, bool]]:
    """(moment, satisfied?) of every answer the customer gave about the handling.

    A `satisfaction` event carries the verdict. The case services record none when a customer
    writes back to a closed case and it reopens (they reopen on any such mail), so a reopening
    by the complainant with no verdict at the same moment counts as 不满意.
    """
    said = {e.at for e in events if e.kind == "satisfaction"}
    found = [(e.at, e.detail.get("value") == "satisfied") for e in events if e.kind == "satisfaction"]
    customer = (case.complainant_address or "").lower()
    found += [(e.at, False) for e in events
              if e.kind == "reopened" and e.actor.lower() == customer and e.at not in said]
    return sorted(found)


def satisfaction(cases: list[CaseRow], events: dict[int, list[EventRow]], period: Period,
                 as_of: datetime) -> dict:
    """满意率 = satisfied / verdicts given in the period; 回访率 (response rate) = follow-ups sent in
    the period that the customer answered (by `as_of`) / follow-ups sent in the period."""
    given: list[bool] = []
    answered: list[bool] = []
    for case in cases:
        case_events = events.get(case.id, [])
        case_verdicts = verdicts(case, case_events)
        given += [satisfied for at, satisfied in case_verdicts if period.contains(at)]
        follow_ups = [e.at for e in case_events if e.kind == "sent_follow_up"]
        for index, sent_at in enumerate(follow_ups):
            if not period.contains(sent_at):
                continue
            until = follow_ups[index + 1] if index + 1 < len(follow_ups) else as_of
            answered.append(any(sent_at < at <= until for at, _ in case_verdicts))
    satisfied = sum(given)
    return {
        "rate": ratio(given).as_dict(),
        "response_rate": ratio(answered).as_dict(),
        "satisfied": satisfied,
        "unsatisfied": len(given) - satisfied,
        "follow_ups_sent": len(answered),
    }
