"""`triage mailboxes`: the health of each configured mailbox, as its poller last recorded it."""

from __future__ import annotations

from datetime import datetime, tzinfo

import click

from models.mail import MailboxState
from worker.cli.output import print_rows

COLUMNS = ("name", "health", "last_success", "waiting", "last_error", "last_error_at",
           "token_state")


def health_of(state: MailboxState | None) -> str:
    """One word for a person scanning the list: ok, error, token, or never (not polled yet)."""
    if state is None or (state.last_success_at is None and state.last_error is None):
        return "never"
    if state.token_state == "refresh_failed":
        return "token"
    # A successful poll clears last_error, so an error still recorded is newer than any success.
    return "error" if state.last_error else "ok"


def mailbox_row(name: str, state: MailboxState | None, zone: tzinfo) -> dict:
    def moment(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat(timespec="seconds") if value else None

    return {
        "name": name,
        "health": health_of(state),
        "last_success": moment(state.last_success_at) if state else None,
        "waiting": state.waiting if state else None,
        "last_error": state.last_error if state else None,
        "last_error_at": moment(state.last_error_at) if state else None,
        "token_state": state.token_state if state else None,
    }


@click.command("mailboxes")
@click.option("--format", "output_format", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)
@click.option("--check", is_flag=True,
              help="Exit with status 1 when a mailbox is unhealthy (for health checks).")
@click.pass_obj
def group(lazy_app, output_format: str, check: bool) -> None:
    """Each configured mailbox: last successful fetch, mails waiting, last error, token state."""
    app = lazy_app.get()
    zone = app.policy.calendar.zone
    with app.db.sessions() as session:
        rows = [mailbox_row(mailbox.name, session.get(MailboxState, mailbox.name), zone)
                for mailbox in app.config.mailboxes]
    if check and any(row["health"] in ("error", "token") for row in rows):
        _print(rows, output_format)
        raise SystemExit(1)
    _print(rows, output_format)


def _print(rows: list[dict], output_format: str) -> None:
    # Every column folds rather than being cut: an error shortened to "…" would hide its point.
    print_rows(rows, COLUMNS, output_format, f"{len(rows)} mailbox(es)", keep_whole="name")
