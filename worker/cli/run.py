"""`triage run` and `triage sweep`: the worker itself, and deadline processing on demand."""

from __future__ import annotations

import json
from datetime import datetime

import click

from worker.runner import ROLES, Runner


@click.command("run")
@click.option("--once", is_flag=True, help="Drain every mailbox, finish every job it caused, exit.")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES),
              help="Run only these parts (repeatable; default: all). Production runs the poller "
                   "and scheduler here and `dramatiq worker.jobs` for the workers.")
@click.pass_obj
def run(lazy_app, once: bool, roles: tuple[str, ...]) -> None:
    """Poll the mailboxes and handle every case until stopped (Ctrl-C).

    With no configuration (the embedded default), on the embedded demo mailbox."""
    app = lazy_app.get()
    if app.config.worker.demo:
        from worker.demo.trial import run_trial

        run_trial(app.config, roles or ROLES, once)
        return
    runner = Runner(app, roles or ROLES)
    if once:
        click.echo(json.dumps(runner.run_once()))
    else:
        runner.run_forever()


@click.command("sweep")
@click.option("--at", "at", default=None,
              help="Process deadlines as of this ISO time (default: now), e.g. 2026-12-24T10:00+08:00.")
@click.pass_obj
def sweep(lazy_app, at: str | None) -> None:
    """Send the reminders, escalations and follow-ups due at a moment, and archive what is due."""
    app = lazy_app.get()
    moment = _aware(at, app.policy.calendar.zone) if at else None
    iso = moment.isoformat() if moment else None

    def sweep_and_archive(jobs) -> None:
        jobs.sweep_deadlines.send(iso)
        jobs.archive_cases.send(iso)

    Runner(app, ("worker",)).finish(sweep_and_archive)
    click.echo(f"swept as of {iso or 'now'}")


def _aware(text: str, zone) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO time: {text!r}", param_hint="--at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
