"""The backlog (积压) at a moment: cases open then, the overdue among them, and the oldest (pure).

Whether a case was open is read from its history, not its status now, so the figures for a
past month stay what they were at its end: a case counts from its opening until a `closed` or
`out_of_scope` event, and again from a `reopened` event. A case waiting for the customer's
verdict (replied, follow-up pending) is still open. Departments are the cases' current ones.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from worker.stats.rows import CaseRow, DeadlineRow, EventRow
from worker.stats.timeliness import is_overdue

OPENS, CLOSES = ("reopened",), ("closed", "out_of_scope")


def was_open(case: CaseRow, events: list[EventRow], at: datetime) -> bool:
    if case.created_at >= at:
        return False
    changes = [e for e in events if e.at < at and e.kind in OPENS + CLOSES]  # in time order
    return not changes or changes[-1].kind in OPENS


def backlog(cases: list[CaseRow], events: dict[int, list[EventRow]],
            deadlines: dict[int, list[DeadlineRow]], at: datetime, departments: list[str],
            zone: ZoneInfo) -> dict:
    open_cases = [c for c in cases if was_open(c, events.get(c.id, []), at)]
    by_department = {code: {"open": 0, "overdue": 0, "oldest": None} for code in departments}
    for case in sorted(open_cases, key=lambda c: (c.created_at, c.id)):
        entry = by_department.setdefault(case.department, {"open": 0, "overdue": 0, "oldest": None})
        entry["open"] += 1
        if any(is_overdue(d, at) for d in deadlines.get(case.id, [])):
            entry["overdue"] += 1
        if entry["oldest"] is None:
            entry["oldest"] = {"number": case.number,
                               "created_at": case.created_at.astimezone(zone).isoformat(timespec="minutes"),
                               "age_days": (at - case.created_at).days}
    return {
        "at": at.astimezone(zone).isoformat(timespec="minutes"),
        "open": sum(e["open"] for e in by_department.values()),
        "overdue": sum(e["overdue"] for e in by_department.values()),
        "by_department": by_department,
    }
