"""Messages from files for `triage classify` and `triage model train/evaluate`, and the JSON per message.

A message file is a ``.eml`` mail, or a ``.jsonl`` / ``.csv`` table with ``body`` and an
optional ``subject`` per row (and, for training, any of the label columns). A row's
source is ``<file>#<n>``: n is the line of a .jsonl file and the record after the
header of a .csv file. Anything unreadable raises `BadInput`, naming the file and
the row.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from classifier.dataset import LABEL_COLUMNS
from worker.mail.parse import UnparseableMail, parse_message

if TYPE_CHECKING:
    from classifier.extract import Fields
    from classifier.predict import Prediction

TABLE_SUFFIXES = (".jsonl", ".csv")
MESSAGE_SUFFIXES = (".eml", *TABLE_SUFFIXES)
HEADS = ("kind", "category", "department", "severity")


class BadInput(Exception):
    """A file or row that cannot be used; the message names it."""


@dataclass(frozen=True)
class Message:
    source: str
    subject: str
    body: str
    display_name: str = ""


def read_messages(path: Path) -> list[Message]:
    """The messages of one .eml, .jsonl or .csv file."""
    if path.suffix.lower() == ".eml":
        return [read_mail(path)]
    return [
        Message(source, row.get("subject") or "", row.get("body") or "")
        for source, row in read_table(path)
    ]


def read_mail(path: Path) -> Message:
    try:
        parsed = parse_message(path.read_bytes())
    except (OSError, UnparseableMail) as error:
        raise BadInput(f"{path}: not a readable mail: {error}") from None
    body = parsed.text  # as intake reads it
    if not (parsed.subject.strip() or body):
        raise BadInput(f"{path}: the mail has neither subject nor text")
    return Message(str(path), parsed.subject, body, parsed.from_name)


def read_table(path: Path) -> list[tuple[str, dict]]:
    """(source, row) for every row of a .jsonl / .csv file, each checked to carry text."""
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise BadInput(f"{path}: expected one of {', '.join(MESSAGE_SUFFIXES)}")
    try:
        numbered = _jsonl(path) if suffix == ".jsonl" else _csv(path)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise BadInput(f"{path}: cannot read: {error}") from None
    rows = [(f"{path}#{number}", _checked(f"{path}#{number}", row)) for number, row in numbered]
    if not rows:
        raise BadInput(f"{path}: no rows")
    return rows


def read_labelled_rows(paths: list[Path]) -> list[dict]:
    """Training or evaluation rows of .jsonl / .csv files, or of every such file in a directory."""
    rows = []
    for path in _expand(paths):
        rows += [row for _, row in read_table(path)]
    return rows


def _expand(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
            if not found:
                raise BadInput(f"{path}: no .jsonl or .csv files in this directory")
            files += found
        else:
            files.append(path)
    return files


def _jsonl(path: Path) -> list[tuple[int, object]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                raise BadInput(f"{path}#{number}: not JSON: {error.msg}") from None
    return rows


def _csv(path: Path) -> list[tuple[int, object]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "body" not in reader.fieldnames:
            raise BadInput(f"{path}: no body column (columns: {', '.join(reader.fieldnames or [])})")
        return [(number, {k: v for k, v in row.items() if k is not None})
                for number, row in enumerate(reader, 1)]


def _checked(source: str, row: object) -> dict:
    if not isinstance(row, dict):
        raise BadInput(f"{source}: expected an object with subject and body")
    for column in ("subject", "body", *LABEL_COLUMNS):
        if row.get(column) is not None and not isinstance(row[column], str):
            raise BadInput(f"{source}: {column} must be text")
    if not ((row.get("body") or "").strip() or (row.get("subject") or "").strip()):
        raise BadInput(f"{source}: no body")
    return row


def message_json(message: Message, prediction: Prediction, fields: Fields) -> dict:
    """The line `triage classify` prints for one message."""
    heads = prediction.heads
    return {
        "source": message.source,
        **{head: heads[head].label if head in heads else None for head in HEADS},
        "confidence": {head: round(p.probability, 4) for head, p in heads.items()},
        "needs_review": prediction.needs_review,
        "candidates": {
            head: [[label, round(probability, 4)] for label, probability in p.candidates]
            for head, p in heads.items()
        },
        "fields": {
            "name": fields.name,
            "phones": list(fields.phones),
            "order_numbers": list(fields.order_numbers),
            "amounts": [str(amount) for amount in fields.amounts],
            "asks": list(fields.asks),
            "object": fields.object,
        },
    }
