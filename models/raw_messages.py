"""Repository functions for raw messages and mailbox state: the exactly-once core of intake."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.mail import MailboxState, RawMessage
from models.sql import insert_or_ignore
from worker.batches import JOB_BATCH, MAX_BATCH_BYTES, plan_batches
from worker.intake.identity import dedup_key, message_id_of


def store_raw_message(session: Session, mailbox: str, uidvalidity: int | None, uid: int | None,
                      raw: bytes) -> int | None:
    """Store one delivered mail; the id of the new row, or None if this mail is already stored.

    Runs inside the caller's transaction, together with the mailbox's watermark: both commit
    or neither does, and only then may the poller flag the message on the server.
    """
    return insert_or_ignore(session, RawMessage.__table__, {
        "mailbox": mailbox,
        "uidvalidity": uidvalidity,
        "uid": uid,
        "dedup_key": dedup_key(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "message_id": (message_id_of(raw) or "")[:998] or None,
        "size": len(raw),
        "raw": raw,
        "received_at": utcnow(),
        "status": "new",
        "attempts": 0,
    })


def mailbox_state(session: Session, name: str) -> MailboxState:
    """The mailbox's row, created on first use."""
    insert_or_ignore(session, MailboxState.__table__, {"name": name, "last_uid": 0, "waiting": 0})
    return session.get(MailboxState, name, populate_existing=True)


def reset_watermark(session: Session, name: str, uidvalidity: int) -> None:
    """A new UIDVALIDITY means every UID may have changed: rescan from the start."""
    session.execute(update(MailboxState).where(MailboxState.name == name)
                    .values(uidvalidity=uidvalidity, last_uid=0))


def advance_watermark(session: Session, name: str, uid: int, uidvalidity: int) -> None:
    """Only within the same UIDVALIDITY: a poller still holding a session from before a
    mailbox rebuild must not push the new watermark forward with old UIDs."""
    session.execute(update(MailboxState)
                    .where(MailboxState.name == name, MailboxState.last_uid < uid,
                           MailboxState.uidvalidity == uidvalidity)
                    .values(last_uid=uid))


def record_poll_success(session: Session, name: str, waiting: int, at: datetime) -> None:
    session.execute(update(MailboxState).where(MailboxState.name == name)
                    .values(last_success_at=at, waiting=waiting, last_error=None,
                            token_state="ok"))


def record_poll_error(session: Session, name: str, error: str, at: datetime,
                      token_state: str | None = None) -> None:
    values = {"last_error": error[:2000], "last_error_at": at}
    if token_state:
        values["token_state"] = token_state
    session.execute(update(MailboxState).where(MailboxState.name == name).values(**values))


def raw_messages_with_status(session: Session, statuses: tuple[str, ...],
                             limit: int | None = None) -> list[RawMessage]:
    query = select(RawMessage).where(RawMessage.status.in_(statuses)).order_by(RawMessage.id)
    return list(session.scalars(query.limit(limit) if limit else query))


# Claiming and settling run for every message: statements on the table, not the ORM class,
# whose UPDATEs cost twice as much (they synchronise the session).
RAW = RawMessage.__table__


def claim_raw_messages(session: Session, raw_ids: list[int]) -> set[int]:
    """Take stored messages for processing inside the caller's transaction: the ids that were
    still `new` and are now this transaction's, until it sets their final status.

    On PostgreSQL the claimed rows stay locked until the transaction ends; rows another worker
    holds are skipped, not waited for (so two batches never deadlock), and stay that worker's
    or, if it dies, go back to `new` for the recovery sweep. On SQLite the UPDATE takes the one
    write lock, and a second worker sees the final status once the first commits.
    """
    free = (select(RAW.c.id)
            .where(RAW.c.id.in_(raw_ids), RAW.c.status == "new")
            .order_by(RAW.c.id).with_for_update(skip_locked=True))
    claimed = session.execute(
        update(RAW).where(RAW.c.id.in_(free), RAW.c.status == "new")
        .values(attempts=RAW.c.attempts + 1).returning(RAW.c.id)
    )
    return set(claimed.scalars())


def settle_raw_message(session: Session, raw_id: int, status: str, reason: str, at: datetime,
                       case_id: int | None = None, failed_step: str | None = None) -> None:
    """A claimed message's final status: processed (with its case), ignored, unparseable, or
    failed in a named step."""
    session.execute(_SETTLE, {"raw_id": raw_id, "new_status": status, "why": reason, "at": at,
                              "of_case": case_id, "step": failed_step})


# Built once, the values bound per call; a message settled without a case keeps the one it had.
_SETTLE = (update(RAW).where(RAW.c.id == bindparam("raw_id"))
           .values(status=bindparam("new_status"), reason=bindparam("why"),
                   processed_at=bindparam("at"), failed_step=bindparam("step"),
                   case_id=func.coalesce(bindparam("of_case", type_=Integer), RAW.c.case_id)))


def unprocessed_batches(session: Session, received_before: datetime | None = None) -> list[list[int]]:
    """Messages still `new` (a worker died, or their job was lost), as `case.open` batches
    bounded in count and bytes."""
    query = select(RawMessage.id, RawMessage.size).where(RawMessage.status == "new")
    if received_before is not None:
        query = query.where(RawMessage.received_at < received_before)
    sizes = {row.id: row.size for row in session.execute(query)}
    return plan_batches(sizes, JOB_BATCH, MAX_BATCH_BYTES)
