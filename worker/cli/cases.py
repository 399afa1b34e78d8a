"""`triage cases`: list, show and correct cases."""

from __future__ import annotations

import json

import click

from models.base import utcnow
from models.case_queries import find_case, list_cases, mails_of_case, next_due_by_case
from worker.case_views import case_detail, case_row
from worker.cases.replies import CLOSED, forward_to_new_department
from worker.cli.output import print_rows
from worker.retraining import HEADS, checked_labels, relabel

LIST_COLUMNS = ("number", "status", "kind", "category", "department", "severity",
                "customer", "created_at", "next_due")


@click.group("cases")
def group() -> None:
    """List, show and correct cases."""


@group.command("list")
@click.option("--format", "output_format", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)
@click.option("--status", default=None, help="Only cases in this status.")
@click.option("--limit", type=int, default=None)
@click.pass_obj
def list_command(lazy_app, output_format: str, status: str | None, limit: int | None) -> None:
    """One line per case: number, status, labels, customer, opened, next deadline."""
    app = lazy_app.get()
    with app.db.sessions() as session:
        cases = list_cases(session, status=status, limit=limit)
        due = next_due_by_case(session, [case.id for case in cases])
        rows = [case_row(case, due.get(case.id), app.policy.calendar.zone) for case in cases]
    print_rows(rows, LIST_COLUMNS, output_format, f"{len(rows)} case(s)", keep_whole="number")


@group.command("show")
@click.argument("number")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.pass_obj
def show_command(lazy_app, number: str, output_format: str) -> None:
    """A case with its history: every mail, event and deadline."""
    app = lazy_app.get()
    with app.db.sessions() as session:
        case = find_case(session, number)
        if case is None:
            raise click.ClickException(f"no case {number}")
        incoming, outgoing = mails_of_case(session, case.id)
        detail = case_detail(case, incoming, outgoing, app.policy.calendar.zone)
    if output_format == "json":
        click.echo(json.dumps(detail, ensure_ascii=False, indent=2))
    else:
        click.echo(render_detail(detail))


@group.command("relabel")
@click.argument("number")
@click.option("--kind", default=None)
@click.option("--category", default=None)
@click.option("--department", default=None, help="A department of the policy: code or name.")
@click.option("--severity", default=None)
@click.option("--by", "by", default="admin", show_default=True, help="Who corrects.")
@click.pass_obj
def relabel_command(lazy_app, number: str, by: str, **labels: str | None) -> None:
    """Correct a case's labels: recorded as training data for the next model and in the
    case's history. A new department of an open case receives it by mail."""
    labels = {head: labels[head] for head in HEADS if labels[head] is not None}
    if not labels:
        raise click.UsageError("give at least one of --kind, --category, --department, --severity")
    app = lazy_app.get()
    try:
        labels = checked_labels(app.policy, labels)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    with app.db.transaction() as session:
        case = find_case(session, number)
        if case is None:
            raise click.ClickException(f"no case {number}")
        now = utcnow()
        changes = relabel(session, case, labels, by, now)
        mail_ids = []
        if "department" in changes and case.status not in CLOSED:
            mail_ids = forward_to_new_department(session, app.env, case, changes["department"]["from"],
                                                 f"由管理员 {by} 改派", f"relabel:{now.isoformat()}", now)
    if mail_ids:
        # Queued in the outbox with the correction; the running worker sends it.
        click.echo(f"{number}: forward to {app.policy.department_title(case.department)} queued")
    if not changes:
        click.echo(f"{number}: already labelled so, nothing recorded")
    for head, change in changes.items():
        click.echo(f"{number}: {head} {change['from']} -> {change['to']}")


def render_detail(detail: dict) -> str:
    lines = [f"{detail['number']}  {detail['status']}"]
    for key in ("kind", "category", "department", "severity", "needs_review", "confidence",
                "model_version", "customer", "name", "phones", "subject", "object", "asks",
                "order_numbers", "amounts", "created_at", "reopen_count"):
        if detail.get(key) not in (None, [], {}, ""):
            lines.append(f"  {key}: {detail[key]}")
    lines.append("  facts:")
    lines += [f"    {line}" for line in (detail.get("facts") or "").splitlines()]
    lines.append("deadlines:")
    lines += [f"  {d['stage']:<12} round {d['round']}  due {d['due_at']}  {d['state']}"
              + (f"  done {d['done_at']}" if d["done_at"] else "") for d in detail["deadlines"]]
    lines.append("history:")
    lines += [f"  {item['at']}  {item['what']}" for item in detail["history"]]
    return "\n".join(lines)

