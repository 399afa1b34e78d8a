"""What case services need besides the database session: the policy and our mail identity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from worker.policy import Policy
from worker.reply_tokens import reply_address


@dataclass(frozen=True)
class CaseEnv:
    policy: Policy
    from_address: str
    signing_key: bytes
    storage_dir: Path

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2]

    def reply_to(self, reply_token: str) -> str:
        return reply_address(self.from_address, reply_token)

    def department_of(self, address: str) -> str | None:
        """The department whose shared or head address this is."""
        address = address.lower()
        for code, department in self.policy.departments.items():
            if address in (department.address.lower(), department.head.lower()):
                return code
        return None
