"""The plain rows the statistics are computed from, and the ratio every rate is reported as.

The queries in `worker.stats.queries` fill these from the database; everything else in
`worker.stats` is pure computation over them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CaseRow:
    id: int
    number: str
    status: str
    kind: str
    category: str
    department: str
    severity: str
    needs_review: bool
    predicted_heads: frozenset[str]  # heads the classifier gave a probability for
    complainant_address: str | None
    repeat_of_id: int | None
    reopen_count: int
    created_at: datetime
    replied_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class EventRow:
    id: int
    case_id: int
    kind: str
    at: datetime
    actor: str
    detail: dict


@dataclass(frozen=True)
class DeadlineRow:
    case_id: int
    stage: str
    round: int
    starts_at: datetime
    due_at: datetime
    state: str
    done_at: datetime | None
    extended_by: str | None


@dataclass(frozen=True)
class CorrectionRow:
    id: int
    case_id: int
    head: str
    old_label: str | None
    predicted_label: str | None
    new_label: str
    at: datetime


@dataclass
class StatsRows:
    """Every row a report may need, a superset: the computations pick by period themselves."""

    cases: dict[int, CaseRow] = field(default_factory=dict)
    events: list[EventRow] = field(default_factory=list)
    deadlines: list[DeadlineRow] = field(default_factory=list)
    corrections: list[CorrectionRow] = field(default_factory=list)

    def only_department(self, department: str | None) -> StatsRows:
        if department is None:
            return self
        cases = {i: c for i, c in self.cases.items() if c.department == department}
        return StatsRows(cases, [e for e in self.events if e.case_id in cases],
                         [d for d in self.deadlines if d.case_id in cases],
                         [c for c in self.corrections if c.case_id in cases])

    def events_by_case(self) -> dict[int, list[EventRow]]:
        grouped: dict[int, list[EventRow]] = defaultdict(list)
        for event in sorted(self.events, key=lambda e: (e.at, e.id)):
            grouped[event.case_id].append(event)
        return grouped

    def deadlines_by_case(self) -> dict[int, list[DeadlineRow]]:
        grouped: dict[int, list[DeadlineRow]] = defaultdict(list)
        for deadline in self.deadlines:
            grouped[deadline.case_id].append(deadline)
        return grouped


@dataclass(frozen=True)
class Ratio:
    """count of of; reported as {"rate", "count", "of"} with rate null when of is 0."""

    count: int
    of: int

    @property
    def rate(self) -> float | None:
        return self.count / self.of if self.of else None

    def as_dict(self) -> dict:
        rate = self.rate
        return {"rate": None if rate is None else round(rate, 4), "count": self.count, "of": self.of}


def ratio(outcomes) -> Ratio:
    """A Ratio of the true values among booleans."""
    outcomes = list(outcomes)
    return Ratio(sum(1 for outcome in outcomes if outcome), len(outcomes))
