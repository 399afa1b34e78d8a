"""Training rows: reading JSONL / CSV files, fingerprinting them, the frozen holdout.

A row is a dict with ``subject`` and ``body`` and any of the label columns
(``kind``, ``category``, ``department``, ``severity``), plus ``id`` and
``script`` when known. Label values are whatever the data holds.

The holdout is derived, not stored: a row is held out when the sha256 of its
id, read as a fraction of 2**64, is below the holdout fraction. That is a
per-row coin toss, so every category is held out at the same rate in
expectation (stratified in expectation), and a row's side never changes when
lines are added to the corpus or the files are reordered.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

LABEL_COLUMNS = ("kind", "category", "department", "severity")
LIST_COLUMNS = ("phones", "order_numbers")


def read_rows(paths: Iterable[str | Path]) -> list[dict]:
    """Rows of the given .jsonl / .csv files, or of every such file in a directory."""
    rows: list[dict] = []
    for path in _expand(paths):
        if path.suffix == ".jsonl":
            rows += _read_jsonl(path)
        elif path.suffix == ".csv":
            rows += _read_csv(path)
        else:
            raise ValueError(f"{path}: expected a .jsonl or .csv file")
    return rows


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    expanded = []
    for path in map(Path, paths):
        if path.is_dir():
            expanded += sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".csv"))
        else:
            expanded.append(path)
    return expanded


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON: {error}") from error
    return rows


def _read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [dict(row) for row in csv.DictReader(handle)]
    for row in rows:
        for column in LIST_COLUMNS:  # lists are JSON arrays or ;-separated in a CSV cell
            value = row.get(column)
            if isinstance(value, str):
                row[column] = _csv_list(value)
    return rows


def _csv_list(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("["):
        return json.loads(value)
    return [item.strip() for item in value.split(";") if item.strip()]


def row_id(row: dict) -> str:
    """The row's id, or a content hash for rows that have none."""
    if row.get("id"):
        return str(row["id"])
    content = f"{row.get('subject') or ''}\n{row.get('body') or ''}"
    return "sha-" + hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]


def label_columns(rows: list[dict]) -> tuple[str, ...]:
    """Label columns present with at least two distinct values."""
    return tuple(
        column
        for column in LABEL_COLUMNS
        if len({row.get(column) for row in rows if row.get(column)}) >= 2
    )


def is_holdout(identifier: str, fraction: float) -> bool:
    digest = hashlib.sha256(identifier.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def fingerprint(rows: list[dict]) -> str:
    """sha256 of the rows, independent of file format and line order."""
    canonical = sorted(
        json.dumps(
            {key: row.get(key) for key in ("id", "subject", "body", *LABEL_COLUMNS)},
            ensure_ascii=False,
            sort_keys=True,
        )
        for row in rows
    )
    return hashlib.sha256("\n".join(canonical).encode("utf-8")).hexdigest()
