"""`triage stats`: the figures of DOMAIN.md §6 for a month, week, quarter or range of days."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from models.base import utcnow
from worker.stats import periods
from worker.stats.formats import to_csv, to_json, to_table
from worker.stats.html import render_html
from worker.stats.service import report_for

FORMATS = ("table", "json", "csv", "html")


def choose_period(month: str | None, week: str | None, quarter: str | None, first_day: date | None,
                  last_day: date | None, zone, now: datetime) -> periods.Period:
    """Exactly one of the four ways to name a period; none means the last finished month."""
    given = [name for name, value in (("--period", month), ("--week", week), ("--quarter", quarter),
                                      ("--from/--to", first_day or last_day)) if value]
    if len(given) > 1:
        raise click.UsageError(f"name one period, not {' and '.join(given)}")
    try:
        if month:
            return periods.parse("month", month, zone)
        if week:
            return periods.parse("week", week, zone)
        if quarter:
            return periods.parse("quarter", quarter, zone)
        if first_day or last_day:
            if not (first_day and last_day):
                raise click.UsageError("--from and --to go together")
            return periods.between(first_day, last_day, zone)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return periods.last_complete("month", now, zone)


def _moment(text: str | None, zone) -> datetime:
    if not text:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO time: {text!r}", param_hint="--as-of") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


@click.command("stats")
@click.option("--period", "month", metavar="YYYY-MM", help="A month, e.g. 2026-11 (the default: last month).")
@click.option("--week", metavar="YYYY-Www", help="An ISO week, e.g. 2026-W47.")
@click.option("--quarter", metavar="YYYYQn", help="A quarter, e.g. 2026Q4.")
@click.option("--from", "first_day", type=click.DateTime(["%Y-%m-%d"]), help="First day of a range.")
@click.option("--to", "last_day", type=click.DateTime(["%Y-%m-%d"]), help="Last day of a range (included).")
@click.option("--department", default=None, help="Only this department's cases (its code).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
@click.option("--as-of", "as_of", default=None,
              help="Count as of this ISO time instead of now, e.g. to reproduce a mailed report.")
@click.pass_obj
def stats(lazy_app, month, week, quarter, first_day, last_day, department, output_format, output,
          as_of) -> None:
    """Totals, distributions, on-time rates, resolution, repeats, reopenings, satisfaction,
    backlog and classifier agreement for one period (in the policy's time zone), with the change
    against the period before."""
    app = lazy_app.get()
    policy = app.policy
    zone = policy.calendar.zone
    now = _moment(as_of, zone)
    period = choose_period(month, week, quarter, first_day and first_day.date(),
                           last_day and last_day.date(), zone, now)
    if department is not None and department not in policy.departments:
        raise click.BadParameter(f"no department {department!r} (have {', '.join(policy.departments)})",
                                 param_hint="--department")
    with app.db.sessions() as session:
        report = report_for(session, policy, period, now, department)
    render = {"json": to_json, "csv": to_csv, "table": lambda r: to_table(r, policy),
              "html": lambda r: render_html(r, policy)}[output_format]
    text = render(report)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
