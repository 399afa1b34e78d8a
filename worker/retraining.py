"""Label corrections: an admin's relabel, and every correction as a training row.

Admins correct with `triage cases relabel`, departments by answering 转派 (both go
through `record_correction`). The next model learns from them:
`correction_rows` gives one row per corrected case, the case's subject and facts
with its corrected labels and, for the heads nobody corrected, the case's own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.case_writes import add_event, record_correction
from models.cases import Case, LabelCorrection
from worker.policy import Policy

HEADS = ("kind", "category", "department", "severity")
CORRECTION_SOURCES = ("admin", "department")


def allowed_labels(policy: Policy) -> dict[str, list[str]]:
    """The values each head may take under the policy."""
    return {
        "kind": list(policy.labels.kinds),
        "category": list(policy.labels.categories),
        "department": list(policy.departments),
        "severity": list(policy.labels.severities),
    }


def checked_labels(policy: Policy, labels: dict[str, str]) -> dict[str, str]:
    """The labels with departments as codes (a department's name or address is accepted, as in
    a 转派 reply); ValueError names the first value the policy does not know."""
    allowed = allowed_labels(policy)
    checked = {}
    for head, value in labels.items():
        if head not in allowed:
            raise ValueError(f"unknown head {head!r} (heads: {', '.join(HEADS)})")
        if head == "department":
            value = _department_code(policy, value) or value
        if value not in allowed[head]:
            raise ValueError(f"--{head}: unknown {head} {value!r} (the policy has: "
                             f"{', '.join(allowed[head])})")
        checked[head] = value
    return checked


def _department_code(policy: Policy, named: str) -> str | None:
    named = named.strip().lower()
    for code, department in policy.departments.items():
        if named in (code.lower(), department.name.lower(), department.address.lower()):
            return code
    return None


def relabel(session: Session, case: Case, labels: dict[str, str], by: str,
            at: datetime) -> dict[str, dict[str, str]]:
    """An admin's correction of some heads: recorded, and a `relabelled` event when anything changed."""
    changes = {}
    for head, value in labels.items():
        old = getattr(case, head)
        if record_correction(session, case, head, value, by, "admin", at) is not None:
            changes[head] = {"from": old, "to": value}
    if changes:
        add_event(session, case.id, "relabelled", by, at, {"changes": changes})
    return changes


def correction_rows(session: Session, since: datetime | None = None) -> list[dict]:
    """Training rows of the corrected cases (latest correction per head wins), oldest first.

    Cases whose text was anonymised are left out: nothing of the complaint remains.
    """
    query = (select(LabelCorrection, Case).join(Case, Case.id == LabelCorrection.case_id)
             .where(LabelCorrection.source.in_(CORRECTION_SOURCES))
             .order_by(LabelCorrection.at, LabelCorrection.id))
    if since is not None:
        query = query.where(LabelCorrection.at >= since)
    corrected: dict[int, tuple[Case, dict[str, str]]] = {}
    for correction, case in session.execute(query).all():
        corrected.setdefault(case.id, (case, {}))[1][correction.head] = correction.new_label
    rows = []
    for case, labels in corrected.values():
        if case.anonymised_at is not None or not f"{case.subject or ''}{case.facts or ''}".strip():
            continue
        rows.append({
            # A stable id: the case is on the same side of the holdout in every training run.
            "id": f"correction:{case.number}",
            "subject": case.subject or "",
            "body": case.facts or "",
            **{head: getattr(case, head) for head in HEADS},
            **labels,
            "script": case.script,
        })
    return rows
