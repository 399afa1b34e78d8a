"""What `triage demo` plays, step by step, on the real worker: mail in, cases opened, a
department answering by mail, a customer adding information, and the clock moving on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy

from sqlalchemy import select

from models.base import utcnow
from models.case_queries import case_id_for_message_ids, case_id_for_number, list_cases, mails_of_case
from models.cases import Case, Deadline
from models.raw_messages import raw_messages_with_status
from worker.cases.deadlines import reminder_moment
from worker.cases.sweep import REMINDED
from worker.demo import mails as demo_mails
from worker.demo.servers import DemoServers, SentMail
from worker.runner import Runner

RUN_TIMEOUT = 120.0


@dataclass(frozen=True)
class ClockStep:
    at: datetime
    reminders: int
    escalations: int


@dataclass
class Scenario:
    app: object  # worker.app.App
    servers: DemoServers
    mails: list[demo_mails.DemoMail]
    answered_case: str = ""
    added_to_case: str = ""
    clock: list[ClockStep] = field(default_factory=list)

    def fill_mailbox(self) -> int:
        raws = demo_mails.first_batch(self.mails, utcnow())
        self.servers.imap.deliver(raws)
        return len(raws)

    def run_worker(self) -> dict:
        """The real worker, once: drain the mailbox, finish every job it caused."""
        return Runner(self.app).run_once(timeout=RUN_TIMEOUT)

    def department_answers(self) -> str:
        """The department replies to the forward it received, as its mail client would."""
        mail = next(m for m in self.mails if m.answer)
        case, outgoing = self._case_of(mail)
        forward_id = next(m.message_id for m in outgoing if m.kind == "forward" and m.status == "sent")
        received = next(s for s in self.servers.smtp.sent if s.message_id == forward_id)
        forward = message_from_bytes(received.path.read_bytes(), policy=email_policy.default)
        self.servers.imap.deliver([demo_mails.department_answer(forward, mail.answer, utcnow())])
        self.answered_case = case.number
        return case.number

    def customer_adds_information(self) -> str:
        """The customer writes again with the case number of the acknowledgement in the subject."""
        mail = next(m for m in self.mails if m.addition)
        case, _ = self._case_of(mail)
        self.servers.imap.deliver([demo_mails.customer_addition(mail, case.number, utcnow())])
        self.added_to_case = case.number
        return case.number

    def tally(self) -> dict:
        """Cases opened, mails ignored, mails sent so far."""
        with self.app.db.sessions() as session:
            cases = len(list_cases(session))
            ignored = len(raw_messages_with_status(session, ("ignored",)))
        return {"cases": cases, "ignored": ignored, "sent": len(self.servers.smtp.sent)}

    def last_mail_outcome(self) -> str:
        """What intake made of the newest stored mail, e.g. 'added to TS-… (in-reply-to)'."""
        with self.app.db.sessions() as session:
            stored = raw_messages_with_status(session, ("processed", "ignored", "failed", "unparseable"))
        return stored[-1].reason or stored[-1].status if stored else "nothing stored"

    def sent_for_case(self, case_number: str, kind: str) -> SentMail | None:
        """The first mail of this kind the SMTP server received for the case."""
        with self.app.db.sessions() as session:
            case_id = case_id_for_number(session, case_number)
            _, outgoing = mails_of_case(session, case_id) if case_id else ([], [])
        ids = {mail.message_id for mail in outgoing if mail.kind == kind}
        return next((sent for sent in self.servers.smtp.sent if sent.message_id in ids), None)

    def _case_of(self, mail: demo_mails.DemoMail):
        with self.app.db.sessions() as session:
            case_id = case_id_for_message_ids(session, [demo_mails.mail_message_id(mail)])
            if case_id is None:
                raise RuntimeError(f"the demo mail {mail.key!r} opened no case")
            _, outgoing = mails_of_case(session, case_id)
            return session.get(Case, case_id), outgoing

    def move_clock(self) -> list[ClockStep]:
        """`triage sweep --at`: first when the earliest deadline is due for its reminder,
        then just after it has passed, when it is escalated to the department head."""
        first = self._earliest_deadline()
        if first is None:
            return []
        starts_at, due_at = first
        minute = timedelta(minutes=1)
        for moment in (reminder_moment(self.app.policy, starts_at, due_at) + minute, due_at + minute):
            self.clock.append(self._sweep(moment))
        return self.clock

    def _earliest_deadline(self) -> tuple[datetime, datetime] | None:
        with self.app.db.sessions() as session:
            row = session.execute(
                select(Deadline.starts_at, Deadline.due_at)
                .where(Deadline.state == "pending", Deadline.stage.in_(REMINDED))
                .order_by(Deadline.due_at).limit(1)).first()
        return tuple(row) if row else None

    def _sweep(self, moment: datetime) -> ClockStep:
        before = Counter(mail.kind for mail in self.servers.smtp.sent)
        runner = Runner(self.app, ("worker",))
        runner.start_workers()
        runner.jobs.sweep_deadlines.send(moment.isoformat())
        runner.jobs.archive_cases.send(moment.isoformat())
        runner.drain(RUN_TIMEOUT)
        runner.shutdown()
        sent = Counter(mail.kind for mail in self.servers.smtp.sent) - before
        return ClockStep(moment, sent["reminder"], sent["escalation"])
