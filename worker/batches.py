"""Cutting work into batches (itertools.batched arrives with Python 3.12)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

# The most stored messages one `case.open` job takes: classified together, applied in one
# transaction. A poll batch is at most the mailbox's `batch_size`; recovery uses this.
INTAKE_BATCH = 50


def batched(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start:start + size]) for start in range(0, len(items), size)]
