"""What `triage demo` shows at the end, as rich renderables built from the database and the
sent-mail folder."""

from __future__ import annotations

from collections import Counter
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from models.case_queries import list_cases, next_due_by_case
from models.raw_messages import raw_messages_with_status
from worker.case_views import case_row
from worker.demo.servers import SentMail
from worker.mail.parse import UnparseableMail, parse_message

SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date")


def cases_table(app) -> Table:
    """Every case: number, labels, how sure the classifier was, and the next deadline."""
    policy, zone = app.policy, app.policy.calendar.zone
    with app.db.sessions() as session:
        cases = list_cases(session)
        due = next_due_by_case(session, [case.id for case in cases])
    table = Table(title=f"{len(cases)} cases", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("number", "kind", "category", "department", "severity", "confidence",
                   "review", "status", "next deadline"):
        table.add_column(column, no_wrap=column in ("number", "next deadline"))
    for case in sorted(cases, key=lambda c: c.number):
        row = case_row(case, due.get(case.id), zone)
        confidence = min((case.confidence or {}).values(), default=None)
        table.add_row(
            row["number"], policy.label_title(row["kind"]), policy.label_title(row["category"]),
            policy.department_title(row["department"]),
            Text(policy.label_title(row["severity"]),
                 style={"urgent": "bold red", "major": "yellow"}.get(row["severity"], "")),
            f"{confidence:.0%}" if confidence is not None else "—",
            Text("review", style="magenta") if row["needs_review"] else "",
            row["status"],
            row["next_due"].replace("T", " ")[5:16] if row["next_due"] else "—",
        )
    table.caption = "confidence: the lowest of the four heads; review: below the policy's threshold"
    return table


def mail_panel(sent: SentMail, title: str) -> Panel:
    """A sent mail as its recipient reads it: the main headers and the decoded text."""
    message = message_from_bytes(sent.path.read_bytes(), policy=email_policy.default)
    lines = [Text.assemble((f"{name}: ", "bold"), str(message[name]))
             for name in SHOWN_HEADERS if message[name]]
    body = message.get_body(("plain",))
    text = body.get_content().strip() if body else "(no text part)"
    return Panel(Group(*lines, Text(""), Text(text)), title=title,
                 subtitle=str(sent.path), title_align="left", subtitle_align="right")


def ignored_table(app) -> Table:
    """Mail that opened no case and got no answer, with the rule that recognised it."""
    with app.db.sessions() as session:
        ignored = raw_messages_with_status(session, ("ignored",))
    table = Table(title=f"{len(ignored)} mails ignored", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("#", "from", "subject", "reason"):
        table.add_column(column)
    for raw in ignored:
        try:
            parsed = parse_message(raw.raw or b"")
            sender, subject = parsed.from_address, parsed.subject
        except UnparseableMail:
            sender, subject = "?", "?"
        table.add_row(str(raw.id), sender, subject, raw.reason or "")
    return table


def sent_summary(sent: list[SentMail]) -> str:
    counts = Counter(mail.kind for mail in sent)
    return ", ".join(f"{count} {kind}" for kind, count in counts.most_common())


def next_steps(directory: Path, sent_dir: Path, answered_case: str) -> Panel:
    config = directory / "triage.toml"
    text = Text.assemble(
        ("Left for inspection\n", "bold"),
        f"  database    {directory / 'triage.db'}\n",
        f"  sent mail   {sent_dir}/ (each mail as an .eml file: open it in any mail client)\n",
        f"  worker log  {directory / 'worker.log'}\n",
        f"  a case      triage --config {config} cases show {answered_case}\n\n",
        ("Next: a real mailbox\n", "bold"),
        "  cp triage.example.toml triage.toml   # every key beside its default\n",
        "  # set [[mailboxes]], [smtp] and [database]; export the variables its *_env keys name\n",
        "  triage --config triage.toml run\n\n",
        "  `triage run` with no configuration runs this embedded mailbox until Ctrl-C.",
    )
    return Panel(text, title="what next", title_align="left")
