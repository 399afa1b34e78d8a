"""Repository functions for the outbox: queue once, claim once, record what happened."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.mail import OutgoingMail
from models.sql import insert_or_ignore


def message_id_for(dedup_key: str, domain: str) -> str:
    """Deterministic per row: a resend after a crash carries the same Message-ID."""
    return f"<{hashlib.sha256(dedup_key.encode()).hexdigest()[:32]}@{domain}>"


def queue_mail(session: Session, case_id: int | None, draft, domain: str) -> int | None:
    """Write one outgoing mail; None when a mail with this deduplication key already exists."""
    return insert_or_ignore(session, OutgoingMail.__table__, {
        "case_id": case_id,
        "kind": draft.kind,
        "dedup_key": draft.dedup_key,
        "to_addresses": list(draft.to),
        "cc_addresses": list(draft.cc),
        "subject": draft.subject,
        "body_text": draft.text,
        "body_html": draft.html,
        "headers": dict(draft.headers),
        "message_id": message_id_for(draft.dedup_key, domain),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "created_at": utcnow(),
    })


# The sending path's statements are on the table, not the ORM class: an ORM-enabled UPDATE
# costs twice as much (it synchronises the session), and they run for every mail sent. The
# hottest are built once, their values bound per call: building cost as much as running them.
OUTBOX = OutgoingMail.__table__


_CLAIM = (update(OUTBOX).where(OUTBOX.c.id == bindparam("mail_id"), OUTBOX.c.status == "pending")
          .values(status="sending", claimed_at=bindparam("at"), attempts=OUTBOX.c.attempts + 1)
          .returning(OUTBOX))


def claim_for_sending(session: Session, mail_id: int, now: datetime) -> Row | None:
    """pending → sending, for exactly one worker, which gets the row (its columns as
    attributes, like an `OutgoingMail`); the others get None."""
    return session.execute(_CLAIM, {"mail_id": mail_id, "at": now}).one_or_none()


_MARK_SENT = (update(OUTBOX).where(OUTBOX.c.id == bindparam("mail_id"))
              .values(status="sent", sent_at=bindparam("at"), last_error=bindparam("note")))


def mark_sent(session: Session, mail_id: int, now: datetime, note: str | None = None) -> None:
    session.execute(_MARK_SENT, {"mail_id": mail_id, "at": now, "note": note})


def mark_failed(session: Session, mail_id: int, error: str) -> None:
    session.execute(update(OUTBOX).where(OUTBOX.c.id == mail_id)
                    .values(status="failed", last_error=error[:2000]))


def defer(session: Session, mail_id: int, error: str, next_attempt_at: datetime) -> None:
    """A temporary failure: back to pending, to be tried again later."""
    session.execute(update(OUTBOX).where(OUTBOX.c.id == mail_id)
                    .values(status="pending", last_error=error[:2000],
                            next_attempt_at=next_attempt_at))


def mails_to_send(session: Session, now: datetime, sending_lease: timedelta) -> list[int]:
    """Pending mail that is due, and mail a crashed worker left in `sending` past its lease.

    A mail stuck in `sending` may already have reached the SMTP server before the crash:
    sending it again is the at-least-once edge (the same Message-ID lets clients fold it).
    """
    stale = now - sending_lease
    rows = session.scalars(
        select(OutgoingMail.id).where(or_(
            (OutgoingMail.status == "pending") & (OutgoingMail.next_attempt_at <= now),
            (OutgoingMail.status == "sending") & (OutgoingMail.claimed_at < stale),
        )).order_by(OutgoingMail.id)
    )
    return list(rows)


def release_stale(session: Session, mail_ids: list[int], claimed_before: datetime) -> None:
    """Back to pending only what is still past its lease: a worker that claimed one of these
    mails a moment ago keeps it (re-checked in the UPDATE itself, not from the earlier SELECT)."""
    session.execute(update(OutgoingMail)
                    .where(OutgoingMail.id.in_(mail_ids), OutgoingMail.status == "sending",
                           OutgoingMail.claimed_at < claimed_before)
                    .values(status="pending"))
