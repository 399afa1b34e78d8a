"""Cases and what happens to them: events, deadlines, case-number counters, label corrections."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

CASE_STATUSES = (
    "open",          # registered, waiting for the department
    "needs_review",  # the classifier was unsure: the desk triages it by hand
    "answered",      # the department answered; the reply to the customer is due
    "replied",       # the customer has the answer; follow-up pending
    "reopened",      # second handling (二次处理) after an unsatisfied follow-up
    "closed",
    "out_of_scope",
    "archived",
)
DEADLINE_STATES = ("pending", "done", "cancelled")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    kind: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[dict] = mapped_column(default=dict)  # head -> probability
    model_version: Mapped[str | None] = mapped_column(String(80))
    needs_review: Mapped[bool] = mapped_column(default=False)
    # The complainant (投诉人) and how to reach them.
    complainant_name: Mapped[str | None] = mapped_column(String(200))
    complainant_address: Mapped[str | None] = mapped_column(String(320), index=True)
    complainant_phones: Mapped[list] = mapped_column(default=list)
    channel: Mapped[str] = mapped_column(String(20), default="email")
    script: Mapped[str] = mapped_column(String(20), default="simplified")
    subject: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[str] = mapped_column(Text, default="")  # 投诉事由, as the customer wrote it
    complained_object: Mapped[str | None] = mapped_column(Text)  # 被投诉对象
    asks: Mapped[list] = mapped_column(default=list)  # 投诉请求
    order_numbers: Mapped[list] = mapped_column(default=list)
    amounts: Mapped[list] = mapped_column(default=list)
    # Signed token of the case's own reply address (complaints+<token>@…).
    reply_token: Mapped[str] = mapped_column(String(80), unique=True)
    first_message_id: Mapped[str | None] = mapped_column(String(998))
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    related_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    reopen_count: Mapped[int] = mapped_column(default=0)
    out_of_scope_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    answered_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    anonymised_at: Mapped[datetime | None]

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    deadlines: Mapped[list[Deadline]] = relationship(
        back_populates="case", order_by="Deadline.due_at", cascade="all, delete-orphan"
    )


class CaseEvent(Base):
    """The append-only audit trail of a case: every mail, decision and correction."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(320))  # system, customer, a department, an admin
    detail: Mapped[dict] = mapped_column(default=dict)
    raw_message_id: Mapped[int | None] = mapped_column(ForeignKey("raw_messages.id"))
    outgoing_mail_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_mail.id"))

    case: Mapped[Case] = relationship(back_populates="events")


class Deadline(Base):
    __tablename__ = "deadlines"
    __table_args__ = (
        UniqueConstraint("case_id", "stage", "round"),
        Index("ix_deadlines_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    stage: Mapped[str] = mapped_column(String(30))
    # Handling round: 0 first handling, 1 after the first reopening (二次处理), …
    round: Mapped[int] = mapped_column(default=0)
    starts_at: Mapped[datetime]
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default="pending")
    done_at: Mapped[datetime | None]
    extended_by: Mapped[str | None] = mapped_column(String(40))
    reminded_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0)  # 0 none, 1 head, 2 management

    case: Mapped[Case] = relationship(back_populates="deadlines")


class CaseCounter(Base):
    """One row per case-number scope (e.g. 'TS-20261122-'): the last serial handed out."""

    __tablename__ = "case_counters"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class LabelCorrection(Base):
    """An admin's or department's correction of a label: training data for the next model."""

    __tablename__ = "label_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    head: Mapped[str] = mapped_column(String(20))
    old_label: Mapped[str | None] = mapped_column(String(40))
    new_label: Mapped[str] = mapped_column(String(40))
    predicted_label: Mapped[str | None] = mapped_column(String(40))
    model_version: Mapped[str | None] = mapped_column(String(80))
    corrected_by: Mapped[str] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(20))  # admin | department
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SentAutoReply(Base):
    """Automatic answers per sender, for the hourly limit that stops mail loops."""

    __tablename__ = "auto_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    note: Mapped[str | None] = mapped_column(Text)
