"""The dramatiq actors: thin, named `area.verb`; each loads by id, calls a service, commits.

Jobs are enqueued only after the transaction that wrote their rows has committed. Every actor
is idempotent: a job run twice (a retry, a recovery sweep) does nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import datetime

import dramatiq

from models.base import utcnow
from worker import runtime
from worker.batches import JOB_BATCH, batched
from worker.cases.lifecycle import archive_due, follow_up, reply_for_latest_answer, run_sweep
from worker.cases.retention import purge
from worker.cases.sending import send_outgoing
from worker.intake.poller import MailboxPoller
from worker.intake.service import process_raw_messages
from worker.mailer import TemporaryFailure
from worker.stats.mailing import queue_due_reports

log = logging.getLogger("triage.jobs")
_app = runtime.current_app  # resolved per call: the App of this process
runtime.current_app()  # a worker process started by `dramatiq worker.jobs` sets its broker here


def _moment(at: str | None) -> datetime:
    return datetime.fromisoformat(at) if at else utcnow()


def enqueue_sends(mail_ids: list[int]) -> None:
    for batch in batched(mail_ids, JOB_BATCH):
        send_mail.send(batch)


def _retry_temporary(retries: int, error: Exception) -> bool:
    """Temporary failures, a bounded number of times (dramatiq's `retry_when` replaces its own
    limit). After that the mail waits as `pending` until its next attempt time, and the sweep
    hands it to a worker again: an SMTP server down for a day costs no retry storm."""
    return isinstance(error, TemporaryFailure) and retries < _app().config.broker.max_retries


@dramatiq.actor(actor_name="mail.send", queue_name="mail", retry_when=_retry_temporary)
def send_mail(mail_ids: list[int]) -> None:
    """Outbox rows over one SMTP connection. If any was deferred, the job is retried (with
    dramatiq's backoff) for them; the rest are done and skipped on the retry."""
    app = _app()
    outcomes = send_outgoing(app.db, app.env, app.config.smtp, mail_ids, utcnow())
    deferred = [mail_id for mail_id, outcome in outcomes.items() if outcome == "deferred"]
    if deferred:
        raise TemporaryFailure(f"{len(deferred)} of {len(mail_ids)} mails deferred: {deferred}")


@dramatiq.actor(actor_name="case.open", queue_name="intake", max_retries=3)
def open_cases(raw_ids: list[int]) -> None:
    """A poll's batch of stored messages: classified together, applied in one transaction."""
    enqueue_sends(process_raw_messages(_app(), raw_ids))


@dramatiq.actor(actor_name="case.reply", queue_name="cases", max_retries=3)
def reply_case(case_id: int, at: str | None = None) -> None:
    enqueue_sends(reply_for_latest_answer(_app(), case_id, _moment(at)))


@dramatiq.actor(actor_name="case.follow_up", queue_name="cases", max_retries=3)
def follow_up_case(case_id: int, at: str | None = None) -> None:
    enqueue_sends(follow_up(_app(), case_id, _moment(at)))


@dramatiq.actor(actor_name="deadlines.sweep", queue_name="sweep", max_retries=0)
def sweep_deadlines(at: str | None = None) -> None:
    run_sweep(_app(), _moment(at), enqueue_sends, follow_up_case.send, reply_case.send, open_cases.send)


@dramatiq.actor(actor_name="cases.archive", queue_name="sweep", max_retries=0)
def archive_cases(at: str | None = None) -> None:
    archive_due(_app(), _moment(at))


@dramatiq.actor(actor_name="retention.purge", queue_name="sweep", max_retries=0)
def purge_expired(at: str | None = None) -> None:
    purge(_app(), _moment(at), dry_run=False)


@dramatiq.actor(actor_name="stats.report", queue_name="sweep", max_retries=0)
def mail_reports(at: str | None = None) -> None:
    """The finished periods' statistics to management, once each (the outbox deduplicates)."""
    enqueue_sends(queue_due_reports(_app(), _moment(at)))


@dramatiq.actor(actor_name="mailboxes.poll", queue_name="intake", max_retries=0)
def poll_mailbox(name: str) -> None:
    app = _app()
    mailbox = next(m for m in app.config.mailboxes if m.name == name)
    poller = MailboxPoller(mailbox, app.db, on_stored=open_cases.send)
    try:
        poller.poll_once()
    finally:
        poller.close()


QUEUES = ["intake", "cases", "mail", "sweep"]
