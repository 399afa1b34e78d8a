"""On-time rates: per stage, per department and all together (pure).

A deadline counts in the period in which it falls due (`due_at` inside the period), so a
month's figure does not change once the month is over. It is on time when it was done at or
before `due_at`. `due_at` is the deadline as it stands, so an extension the department asked
for in time (延期, seed 000 第十七条: before the deadline) already moved it. An extension asked for
late (the `extended` event says late=true) does not rescue a department stage whose planned
deadline had already passed: that stage is late however the moved deadline was met. (The
planned deadline is where the next stage of the chain starts; extensions do not move starts.)

Not counted: a deadline cancelled before it fell due (the case closed or reopened, so the stage
was not needed) and one still pending that is not due yet. Still pending and past due, or
cancelled after it was due, is late. The `overall` stage is never marked done by the case
services (closing cancels it); it is met when the reply of the same round reached the customer
by its due time. `register`, `follow_up` and `archive` are the system's own timers (done on
arrival, or exactly when they fall due), so they are not measured.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from worker.cases.deadlines import DEPARTMENT_STAGES
from worker.policy import CHAIN_STAGES
from worker.stats.periods import Period
from worker.stats.rows import DeadlineRow, EventRow, StatsRows, ratio

MEASURED_STAGES = ("dispatch", "investigate", "resolve", "answer", "reply", "overall")


def on_time(rows: StatsRows, period: Period, as_of: datetime) -> dict:
    """{"all": Ratio, "by_stage": {stage: Ratio}, "by_department": {code: Ratio}} as dicts."""
    events = rows.events_by_case()
    by_case = rows.deadlines_by_case()
    by_stage: dict[str, list[bool]] = defaultdict(list)
    by_department: dict[str, list[bool]] = defaultdict(list)
    for case_id, deadlines in by_case.items():
        case = rows.cases[case_id]
        late_extensions = late_extension_moments(events.get(case_id, []))
        for deadline in deadlines:
            if deadline.stage not in MEASURED_STAGES or not period.contains(deadline.due_at):
                continue
            outcome = stage_outcome(deadline, deadlines, late_extensions, as_of)
            if outcome is not None:
                by_stage[deadline.stage].append(outcome)
                by_department[case.department].append(outcome)
    everything = [outcome for outcomes in by_stage.values() for outcome in outcomes]
    return {
        "all": ratio(everything).as_dict(),
        "by_stage": {stage: ratio(by_stage[stage]).as_dict() for stage in MEASURED_STAGES},
        "by_department": {code: ratio(outcomes).as_dict()
                          for code, outcomes in sorted(by_department.items())},
    }


def stage_outcome(deadline: DeadlineRow, case_deadlines: list[DeadlineRow],
                  late_extensions: list[tuple[datetime, int]], as_of: datetime) -> bool | None:
    """True on time, False late, None not counted (see the module's docstring)."""
    finished_at = _finished_at(deadline, case_deadlines)
    if finished_at is not None:
        return finished_at <= deadline.due_at and not _rescued_by_late_extension(
            deadline, case_deadlines, late_extensions)
    if deadline.state == "pending":
        return False if deadline.due_at < as_of else None
    # Cancelled: late when the case moved on after the stage was already overdue.
    return False if deadline.done_at and deadline.done_at > deadline.due_at else None


def _finished_at(deadline: DeadlineRow, case_deadlines: list[DeadlineRow]) -> datetime | None:
    if deadline.state == "done":
        return deadline.done_at
    if deadline.stage == "overall":
        replies = [d.done_at for d in case_deadlines
                   if d.stage == "reply" and d.round == deadline.round and d.state == "done"]
        return min(replies) if replies else None
    return None


def late_extension_moments(events: list[EventRow]) -> list[tuple[datetime, int]]:
    """(moment, handling round) of every extension asked for after a department stage was due."""
    moments, round_ = [], 0
    for event in events:  # in time order
        if event.kind == "reopened":
            round_ += 1
        elif event.kind == "extended" and event.detail.get("late"):
            moments.append((event.at, round_))
    return moments


def _planned_due(deadline: DeadlineRow, case_deadlines: list[DeadlineRow]) -> datetime | None:
    following = CHAIN_STAGES[CHAIN_STAGES.index(deadline.stage) + 1]
    return next((d.starts_at for d in case_deadlines
                 if d.stage == following and d.round == deadline.round), None)


def _rescued_by_late_extension(deadline: DeadlineRow, case_deadlines: list[DeadlineRow],
                               late_extensions: list[tuple[datetime, int]]) -> bool:
    """Whether an extension asked for after this department stage's planned deadline moved it."""
    if deadline.stage not in DEPARTMENT_STAGES or not deadline.extended_by:
        return False
    planned = _planned_due(deadline, case_deadlines)
    return any(round_ == deadline.round and (planned is None or planned < moment)
               and (deadline.done_at is None or deadline.done_at > moment)
               for moment, round_ in late_extensions)


def is_overdue(deadline: DeadlineRow, at: datetime) -> bool:
    """Past due and not yet done or cancelled at `at` (for the backlog)."""
    if deadline.stage not in MEASURED_STAGES or deadline.due_at >= at:
        return False
    return deadline.state == "pending" or (deadline.done_at is not None and deadline.done_at > at)

