"""The state of one message as it passes the intake pipeline, and how steps stop it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from worker.mail.parse import ParsedMail


class Discard(Exception):
    """The message needs no case: stored as `ignored` with this reason.

    `notice` names an answer the sender still gets (e.g. "too_large"); machine mail gets none.
    """

    def __init__(self, reason: str, notice: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.notice = notice


@dataclass
class IntakeMessage:
    raw_id: int
    raw: bytes
    received_at: datetime
    parsed: ParsedMail | None = None
    # Readable text for people (quotes stripped) and normalised text for the classifier.
    body: str = ""
    normalised: str = ""
    script: str = "simplified"
    # Threading: the case this message belongs to, why, and who wrote it.
    case_id: int | None = None
    matched_by: str | None = None
    sender_role: str = "customer"  # customer | department | desk
    sender_department: str | None = None
    # Classification and routing, for a message that opens a case.
    prediction: Any = None
    model_version: str | None = None
    fields: Any = None
    labels: dict[str, str] = field(default_factory=dict)
    department: str | None = None
    copy_to: list[str] = field(default_factory=list)
    routing_note: str | None = None
    out_of_scope: Any = None  # the policy's OutOfScopeRule that matched
    steps_run: list[str] = field(default_factory=list)


class Unparseable(Exception):
    """Nothing usable could be read from the bytes: stored as `unparseable`, kept for retry."""
