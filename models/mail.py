"""Mail as it came in and as it goes out: raw messages, mailbox state, attachments, the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

# A raw message's life: stored `new`, then `processed` (a case has it), `ignored` (machine
# mail, duplicate), `unparseable` or `failed` (kept for `triage mail retry`).
RAW_STATUSES = ("new", "processed", "ignored", "unparseable", "failed")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")


class RawMessage(Base):
    """The source of truth: every message's bytes, stored before anything else happens."""

    __tablename__ = "raw_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "uidvalidity", "uid"),
        Index("ix_raw_messages_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    uidvalidity: Mapped[int | None]
    uid: Mapped[int | None]
    # Same mail delivered twice (two mailboxes, a rebuilt mailbox): one row, one case.
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    size: Mapped[int]
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once purged by retention
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="new")
    reason: Mapped[str | None] = mapped_column(Text)
    failed_step: Mapped[str | None] = mapped_column(String(50))
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)


class MailboxState(Base):
    """Where a poller stands in its mailbox, and how healthy it is."""

    __tablename__ = "mailbox_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    uidvalidity: Mapped[int | None]
    # Every UID up to this one is stored: the next fetch asks for UID last_uid+1:*.
    last_uid: Mapped[int] = mapped_column(default=0)
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    token_state: Mapped[str | None] = mapped_column(String(50))
    waiting: Mapped[int] = mapped_column(default=0)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_message_id: Mapped[int] = mapped_column(ForeignKey("raw_messages.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(Text)  # as the sender named it
    stored_name: Mapped[str] = mapped_column(Text)  # safe, relative to the storage dir
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))


class OutgoingMail(Base):
    """The outbox: mail the system decided to send, written in the transaction that decided it."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (Index("ix_outgoing_mail_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # Which notice: acknowledgement, forward, reminder, escalation, reply, follow_up, …
    kind: Mapped[str] = mapped_column(String(50))
    # Built from stable ids (e.g. "reminder:12:answer:2026-12-01T10:00"); unique, so a
    # decision taken twice writes one row.
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    to_addresses: Mapped[list] = mapped_column(default=list)
    cc_addresses: Mapped[list] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(default=dict)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
