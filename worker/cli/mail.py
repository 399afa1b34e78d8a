"""`triage mail`: stored raw messages — list them by status, replay failed ones."""

from __future__ import annotations

import click

from models.mail import RAW_STATUSES
from models.raw_messages import raw_messages_with_status
from worker.cli.output import print_rows
from worker.intake.service import process_raw_messages, retry_raw_messages
from worker.runner import Runner


@click.group("mail")
def group() -> None:
    """Stored mail: list by status, retry failed or unparseable messages."""


@group.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(RAW_STATUSES),
              help="Only these statuses (repeatable; default: failed and unparseable).")
@click.option("--format", "output_format", type=click.Choice(["table", "jsonl"]), default="table")
@click.pass_obj
def list_command(lazy_app, statuses: tuple[str, ...], output_format: str) -> None:
    """Raw messages with their status, reason and failed step."""
    app = lazy_app.get()
    with app.db.sessions() as session:
        rows = [{"id": m.id, "mailbox": m.mailbox, "status": m.status, "step": m.failed_step,
                 "reason": _last_line(m.reason),
                 "size": m.size, "received_at": m.received_at.isoformat(timespec="seconds"),
                 "case_id": m.case_id}
                for m in raw_messages_with_status(session, statuses or ("failed", "unparseable"))]
    print_rows(rows, ("id", "mailbox", "status", "step", "reason", "received_at"), output_format,
               f"{len(rows)} message(s)", keep_whole="id")


@group.command("retry")
@click.argument("raw_ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Every failed and unparseable message.")
@click.pass_obj
def retry(lazy_app, raw_ids: tuple[int, ...], all_failed: bool) -> None:
    """Process failed or unparseable messages again (after a fix or a new model)."""
    if not raw_ids and not all_failed:
        raise click.UsageError("give message ids, or --failed")
    app = lazy_app.get()
    if all_failed:
        with app.db.sessions() as session:
            raw_ids = tuple(m.id for m in raw_messages_with_status(session, ("failed", "unparseable")))
    retry_raw_messages(app, list(raw_ids))

    def replay(jobs) -> None:
        jobs.enqueue_sends(process_raw_messages(app, list(raw_ids)))

    Runner(app, ("worker",)).finish(replay)
    with app.db.sessions() as session:
        remaining = {m.id for m in raw_messages_with_status(session, ("failed", "unparseable"))}
    for raw_id in raw_ids:
        click.echo(f"{raw_id}: {'still failing' if raw_id in remaining else 'processed'}")


def _last_line(text: str | None) -> str:
    """A traceback's last line says what went wrong."""
    lines = (text or "").strip().splitlines()
    return lines[-1][:120] if lines else ""
