"""Rows for people (a rich table) or for scripts (one JSON object per line)."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table


def print_rows(rows: list[dict], columns: tuple[str, ...], output_format: str, title: str,
               keep_whole: str | None = None) -> None:
    """`keep_whole` names the column people copy into other commands: it is never cut."""
    if output_format == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=column == keep_whole, overflow="fold")
    for row in rows:
        table.add_row(*("" if row[column] is None else str(row[column]) for column in columns))
    Console().print(table)
