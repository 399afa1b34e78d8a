"""A report as of a moment: load the rows of the period and the one before, compute, compare."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from worker.policy import Policy
from worker.stats.periods import Period
from worker.stats.queries import load_rows
from worker.stats.report import build_report, change


def label_sets(policy: Policy) -> dict[str, list[str]]:
    return {"kind": list(policy.labels.kinds), "category": list(policy.labels.categories),
            "severity": list(policy.labels.severities), "department": list(policy.departments)}


def report_for(session: Session, policy: Policy, period: Period, as_of: datetime,
               department: str | None = None) -> dict:
    labels = label_sets(policy)
    report = build_report(load_rows(session, period, as_of), period, as_of, labels, department)
    before = period.previous()
    previous = build_report(load_rows(session, before, as_of), before, as_of, labels, department)
    report["change"] = change(report, previous)
    return report
