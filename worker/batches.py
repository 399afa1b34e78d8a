"""Cutting work into batches (itertools.batched arrives with Python 3.12)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

# The most items one job takes: stored messages for `case.open` (classified together,
# applied in one transaction; a poll batch is at most the mailbox's `batch_size`, recovery
# uses this) and outbox rows for `mail.send` (over one SMTP connection).
JOB_BATCH = 50
# The most bytes of mail a batch holds in memory at once (a fetch, a `case.open` job).
MAX_BATCH_BYTES = 50 * 1024 * 1024


def batched(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start:start + size]) for start in range(0, len(items), size)]


def plan_batches(sizes: dict[int, int], max_count: int, max_bytes: int) -> list[list[int]]:
    """Ids (UIDs, raw message ids) in ascending order, cut into batches of at most
    `max_count` mails and `max_bytes`.

    A mail larger than `max_bytes` travels alone.
    """
    batches: list[list[int]] = []
    batch: list[int] = []
    batch_bytes = 0
    for uid in sorted(sizes):
        if batch and (len(batch) == max_count or batch_bytes + sizes[uid] > max_bytes):
            batches.append(batch)
            batch, batch_bytes = [], 0
        batch.append(uid)
        batch_bytes += sizes[uid]
    if batch:
        batches.append(batch)
    return batches
