"""What case services need besides the database session: the policy and our mail identity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from models.case_writes import auto_replies_since, note_auto_reply
from models.outbox import queue_mail
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

    def queue(self, session: Session, case_id: int | None, draft) -> list[int]:
        """Writes one mail to the outbox: the ids to send (none if decided before)."""
        mail_id = queue_mail(session, case_id, draft, self.domain)
        return [mail_id] if mail_id is not None else []

    def may_answer_automatically(self, session: Session, address: str, now: datetime,
                                 notice: str) -> bool:
        """The per-sender hourly limit on automatic answers, which stops mail loops; an
        answer allowed is counted at once."""
        limit = self.policy.intake.auto_replies_per_sender_per_hour
        if auto_replies_since(session, address, now - timedelta(hours=1)) >= limit:
            return False
        note_auto_reply(session, address, now, notice)
        return True
