"""The report: every figure of DOMAIN.md §6 for one period, and its change against the period
before (pure). The definitions are in the docstrings of the modules each figure comes from.

Which cases a figure is about:
- total, by_*, first-contact resolution, repeat and reopen rates, the classifier: the cases
  opened in the period (created_at inside it), as they stand at `as_of`;
- on-time rates: the deadlines that fell due in the period (`worker.stats.timeliness`);
- satisfaction: the follow-ups sent and the verdicts given in the period;
- backlog: the cases open at the end of the period (or at `as_of` while it is still running).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from worker.stats import agreement, outcomes, timeliness
from worker.stats.backlog import backlog
from worker.stats.periods import Period
from worker.stats.rows import StatsRows

BREAKDOWNS = {"by_kind": "kind", "by_category": "category", "by_department": "department",
              "by_severity": "severity"}


def build_report(rows: StatsRows, period: Period, as_of: datetime, labels: dict[str, list[str]],
                 department: str | None = None) -> dict:
    """`labels` lists each head's known labels ({"kind": [...], …}), so zero counts show."""
    rows = rows.only_department(department)
    events = rows.events_by_case()
    everything = sorted(rows.cases.values(), key=lambda c: (c.created_at, c.id))
    opened = [c for c in everything if period.contains(c.created_at)]
    backlog_at = min(period.end, as_of)
    departments = [department] if department else labels["department"]
    report = {
        "period": {**period.as_dict(), "department": department},
        "as_of": as_of.astimezone(period.zone).isoformat(timespec="seconds"),
        "total": len(opened),
    }
    for key, head in BREAKDOWNS.items():
        known = departments if head == "department" else labels[head]
        report[key] = count_by(opened, head, known)
    report |= {
        "on_time_rate": timeliness.on_time(rows, period, as_of),
        "first_contact_resolution_rate": outcomes.first_contact_resolution(opened, events).as_dict(),
        "repeat_complaint_rate": outcomes.repeat_complaints(opened).as_dict(),
        "reopen_rate": outcomes.reopenings(opened).as_dict(),
        "satisfaction": outcomes.satisfaction(everything, events, period, as_of),
        "backlog": backlog(everything, events, rows.deadlines_by_case(), backlog_at, departments,
                           period.zone),
        "classifier": {"agreement": agreement.agreement(opened, rows.corrections),
                       "manual_review": agreement.manual_review(opened).as_dict()},
    }
    return report


def count_by(cases, head: str, known: list[str]) -> dict[str, int]:
    """Every known label (zero included), then labels the policy no longer lists."""
    counts = Counter(getattr(case, head) for case in cases)
    return {label: counts.get(label, 0) for label in known} | {
        label: n for label, n in sorted(counts.items()) if label not in known}


# Figures compared with the period before: name -> path into the report.
COMPARED = {
    "total": ("total",),
    "on_time_rate": ("on_time_rate", "all", "rate"),
    "first_contact_resolution_rate": ("first_contact_resolution_rate", "rate"),
    "repeat_complaint_rate": ("repeat_complaint_rate", "rate"),
    "reopen_rate": ("reopen_rate", "rate"),
    "satisfaction_rate": ("satisfaction", "rate", "rate"),
    "response_rate": ("satisfaction", "response_rate", "rate"),
    "manual_review_share": ("classifier", "manual_review", "rate"),
    "backlog_open": ("backlog", "open"),
    "backlog_overdue": ("backlog", "overdue"),
}


def _at(report: dict, path: tuple[str, ...]):
    for key in path:
        report = report[key]
    return report


def difference(current, previous) -> dict:
    """Counts: delta and relative change; rates (0..1): delta in rate units (×100 = points)."""
    delta = None if current is None or previous is None else round(current - previous, 4)
    entry = {"current": current, "previous": previous, "delta": delta}
    if isinstance(current, int) and isinstance(previous, int):
        entry["relative"] = round((current - previous) / previous, 4) if previous else None
    return entry


def change(current: dict, previous: dict) -> dict:
    result = {"previous_period": {key: previous["period"][key] for key in ("label", "title", "start", "end")}}
    for name, path in COMPARED.items():
        result[name] = difference(_at(current, path), _at(previous, path))
    result["by_category"] = {label: difference(n, previous["by_category"].get(label, 0))
                             for label, n in current["by_category"].items()}
    return result
