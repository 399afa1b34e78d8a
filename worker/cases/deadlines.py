"""Stage deadlines of a case, computed in working time on the policy's calendar (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.policy import CHAIN_STAGES, Policy
from worker.workdays import Duration

# The department's own stages: its answer completes all three at once.
DEPARTMENT_STAGES = ("investigate", "resolve", "answer")


@dataclass(frozen=True)
class PlannedDeadline:
    stage: str
    starts_at: datetime
    due_at: datetime


def plan_handling(policy: Policy, kind: str, severity: str, start: datetime) -> list[PlannedDeadline]:
    """Register, the chain dispatch → … → reply (each from the end of the one before), overall."""
    limits = policy.stage_limits(kind, severity)
    calendar = policy.calendar
    planned = [PlannedDeadline("register", start, calendar.add(start, limits["register"]))]
    previous_due = start
    for stage in CHAIN_STAGES:
        due = calendar.add(previous_due, limits[stage])
        planned.append(PlannedDeadline(stage, previous_due, due))
        previous_due = due
    planned.append(PlannedDeadline("overall", start, calendar.add(start, limits["overall"])))
    return planned


def plan_stage(policy: Policy, kind: str, severity: str, stage: str,
               start: datetime) -> PlannedDeadline:
    """One stage with its own clock: follow_up from the reply, archive from closing."""
    limit = policy.stage_limits(kind, severity)[stage]
    return PlannedDeadline(stage, start, policy.calendar.add(start, limit))


def reminder_moment(policy: Policy, starts_at: datetime, due_at: datetime) -> datetime:
    """When the policy's share of the stage's business time has passed."""
    calendar = policy.calendar
    share = policy.reminders.at_fraction * calendar.business_seconds_between(starts_at, due_at)
    return calendar.add_business_seconds(starts_at, share)


def extended(policy: Policy, due_at: datetime, extension: Duration) -> datetime:
    return policy.calendar.add(due_at, extension)
