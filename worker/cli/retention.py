"""`triage retention`: delete mail and anonymise cases past the policy's retention years."""

from __future__ import annotations

import click

from models.base import utcnow
from worker.cases.retention import purge


@click.group("retention")
def group() -> None:
    """Retention of closed cases (default: 3 years)."""


@group.command("run")
@click.option("--dry-run", is_flag=True, help="Show what would go; change nothing.")
@click.pass_obj
def run(lazy_app, dry_run: bool) -> None:
    """Delete raw mail and attachments of expired cases and anonymise them; statistics stay."""
    app = lazy_app.get()
    items = purge(app, utcnow(), dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    for item in items:
        click.echo(f"{verb} {item.case_number} (closed {item.closed_at:%Y-%m-%d}): "
                   f"{item.raw_messages} mail(s), {item.attachments} attachment(s)")
    click.echo(f"{len(items)} case(s) {verb}; retention {app.policy.retention.years} years")
