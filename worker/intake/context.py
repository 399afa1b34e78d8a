"""What the intake steps may consult: the policy, the classifier, and read-only lookups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from worker.cases.env import CaseEnv
from worker.policy import Policy


class CaseLookups(Protocol):
    """Read-only questions about existing cases, answered from the database."""

    def case_for_message_ids(self, message_ids: list[str]) -> int | None: ...
    def case_for_token(self, token: str) -> int | None: ...
    def case_for_number(self, number: str) -> int | None: ...


@dataclass(frozen=True)
class IntakeContext:
    policy: Policy
    # `.get()` gives the classifier in force; loaded inside the classify step, so a broken
    # model shows as a failure of that step.
    classifiers: Any
    lookups: CaseLookups
    env: CaseEnv

    @property
    def own_addresses(self) -> frozenset[str]:
        """The system's own sending identity: mail from it is a loop, never a complaint."""
        return frozenset({self.env.from_address.lower()})

    def department_of(self, address: str) -> str | None:
        return self.env.department_of(address)
