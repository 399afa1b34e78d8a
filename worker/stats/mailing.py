"""The `stats.report` job's service: mail each finished period's report to management, once.

The deduplication key (`report:monthly:2026-11`) makes the outbox refuse a second copy, so the
job may run every hour, on several schedulers, and after a crash.
"""

from __future__ import annotations

import logging
from datetime import datetime

from models.outbox import queue_mail
from worker.notices import MailDraft
from worker.policy import Policy
from worker.stats.formats import to_table
from worker.stats.html import render_html
from worker.stats.periods import Period, last_complete
from worker.stats.queries import first_case_at, mail_queued
from worker.stats.service import report_for

log = logging.getLogger("triage.stats")

# Policy setting, period kind, and what the mail calls it.
REPORTS = (("weekly", "week", "周报"), ("monthly", "month", "月报"), ("quarterly", "quarter", "季报"))


def due_reports(policy: Policy, now: datetime) -> list[tuple[str, Period]]:
    """(name, period) of the last finished period of every report the policy asks for."""
    zone = policy.calendar.zone
    return [(name, last_complete(kind, now, zone)) for name, kind, _ in REPORTS
            if getattr(policy.reports, name)]


def dedup_key(name: str, period: Period) -> str:
    return f"report:{name}:{period.label}"


def report_mail(report: dict, policy: Policy, name: str, period: Period) -> MailDraft:
    title = dict((n, t) for n, _, t in REPORTS)[name]
    subject = f"{policy.organisation.name} 投诉处理{title}：{period.title}"
    return MailDraft("report", list(policy.organisation.management), subject,
                     to_table(report, policy), render_html(report, policy), dedup_key(name, period))


def queue_due_reports(app, now: datetime) -> list[int]:
    """Outbox ids of the reports queued now; periods before the first case are skipped."""
    policy = app.policy
    if not policy.organisation.management:
        return []
    queued = []
    for name, period in due_reports(policy, now):
        with app.db.sessions() as session:
            if mail_queued(session, dedup_key(name, period)):
                continue
            first = first_case_at(session)
            if first is None or first >= period.end:
                continue  # the system was not in use yet: nothing to report
            report = report_for(session, policy, period, now)
        draft = report_mail(report, policy, name, period)
        with app.db.transaction() as session:
            mail_id = queue_mail(session, None, draft, app.env.domain)
        if mail_id is not None:
            log.info("report %s queued as mail %s", draft.dedup_key, mail_id)
            queued.append(mail_id)
    return queued
