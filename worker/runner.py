"""`triage run`: the pollers, the in-process workers and the periodic jobs of one process.

With `--once` every mailbox is drained, every job it caused runs to the end, and the process
exits: the database, not the broker's memory, says when the work is done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from models.base import utcnow
from models.mail import RawMessage
from models.outbox import mails_to_send
from models.raw_messages import unprocessed_batches
from worker import runtime
from worker.broker import start_in_process_workers, wait_until_idle
from worker.intake.poller import MailboxPoller

log = logging.getLogger("triage.run")
ROLES = ("poller", "scheduler", "worker")
# Archiving, retention and the periodic reports need not run every minute.
SLOW_JOBS_EVERY = timedelta(hours=1)


class Runner:
    def __init__(self, app, roles: tuple[str, ...] = ROLES):
        self.app = app
        self.roles = roles
        self.broker = runtime.install(app)
        from worker import jobs  # actors bind to the broker installed just above

        self.jobs = jobs
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.worker = None

    def _pollers(self) -> list[MailboxPoller]:
        return [MailboxPoller(mailbox, self.app.db, on_stored=self.jobs.open_cases.send)
                for mailbox in self.app.config.mailboxes]

    def _enqueue_stranded(self) -> None:
        """Messages left `new` by a process that died: claims make a second hand-off harmless."""
        with self.app.db.sessions() as session:
            for batch in unprocessed_batches(session):
                self.jobs.open_cases.send(batch)

    def start_workers(self) -> None:
        if "worker" in self.roles and self.worker is None:
            self.worker = start_in_process_workers(self.broker, self.app.config.broker.threads)

    def run_forever(self) -> None:
        self.start_workers()
        self._enqueue_stranded()
        if "poller" in self.roles:
            for poller in self._pollers():
                self._thread(f"poller-{poller.mailbox.name}", poller.run, self.stop)
        if "scheduler" in self.roles:
            self._thread("scheduler", self._schedule)
        try:
            while not self.stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            log.info("stopping")
        self.shutdown()

    def _thread(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _schedule(self) -> None:
        last_slow = None
        while not self.stop.is_set():
            self.jobs.sweep_deadlines.send()
            now = utcnow()
            if last_slow is None or now - last_slow >= SLOW_JOBS_EVERY:
                self.jobs.archive_cases.send()
                self.jobs.purge_expired.send()
                self.jobs.mail_reports.send()
                last_slow = now
            self.stop.wait(self.app.config.worker.sweep_interval)

    def run_once(self, timeout: float = 600.0) -> dict:
        """Drain every mailbox, then wait until every job it caused has finished."""
        self.start_workers()
        self._enqueue_stranded()
        stored = 0
        for poller in self._pollers():
            try:
                stored += poller.poll_once().stored
            finally:
                poller.close()
        self.drain(timeout)
        self.shutdown()
        return {"stored": stored}

    def drain(self, timeout: float = 600.0) -> None:
        """Waits until no stored message is unprocessed and no due mail unsent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.jobs.sweep_deadlines.send()
            wait_until_idle(self.broker, self.jobs.QUEUES, timeout_ms=int(timeout * 1000))
            if self._nothing_left():
                return
            time.sleep(0.2)
        log.warning("work still pending after %.0f s", timeout)

    def _nothing_left(self) -> bool:
        now = utcnow()
        with self.app.db.sessions() as session:
            new_messages = session.scalar(
                select(func.count()).select_from(RawMessage).where(RawMessage.status == "new"))
            # What the sweep would send now: due mail, and mail left `sending` past its lease.
            # A mail a killed process left `sending` within the lease is not waited for (it may
            # have reached the SMTP server); a later run sends it once the lease has passed.
            due_mail = mails_to_send(session, now, timedelta(seconds=self.app.config.worker.sending_lease))
        return new_messages == 0 and not due_mail

    def finish(self, submit: Callable[[object], None]) -> None:
        """Runs the jobs `submit(jobs)` sends on in-process workers, until all work is done."""
        self.start_workers()
        submit(self.jobs)
        self.drain()
        self.shutdown()

    def shutdown(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
