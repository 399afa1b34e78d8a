"""Exactly once at scale: 300 real complaints, machine mail and duplicates, a SIGKILL mid-run.

The mails are the benchmark's (bench/intake.py): corpus rows written as QQ Mail, 163, iPhone
and Big5 clients write them. Delivered: 300 complaints from 300 senders, 20 machine mails
(auto-replies, bounces, list mail; each copy with its own Message-ID) and 30 duplicates
(15 identical byte copies, 15 copies with the same Message-ID, From and Date but another
Received hop). `triage run --once` runs in a subprocess and is SIGKILLed once 100 cases
exist; a second run finishes the work. The same scenario without the kill gives the same counts.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

import pytest
from sqlalchemy import select

from models.cases import Case, CaseEvent
from models.mail import OutgoingMail, RawMessage
from worker.app import App
from worker.config import load_config
from worker.runner import Runner

from harness import write_config
from servers import start_smtp

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
COMPLAINTS = 300
KILL_AT_CASES = 100
# What each machine mail must be ignored for (the first rule that matches names the reason).
MACHINE = {
    "auto_reply_out_of_office.eml": {"auto-submitted"},
    "auto_reply_no_header_outlook.eml": {"x-auto-response-suppress", "precedence-bulk"},
    "bounce_mailer_daemon_report.eml": {"auto-submitted", "bounce"},
    "mailing_list_newsletter.eml": {"precedence-bulk", "mailing-list"},
}
COPIES_OF_EACH_MACHINE_MAIL = 5
SAME_BYTES_TWICE = 15
SAME_MAIL_OTHER_HOP = 15


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_intake", ROOT / "bench" / "intake.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Delivery:
    complaints: dict[str, object]  # Message-ID -> bench CorpusMail
    machine: dict[str, str]  # Message-ID -> tests/data file name
    deliveries: list[bytes]  # in delivery order, duplicates included


def _with_message_id(raw: bytes, message_id: str) -> bytes:
    """The same mail under another Message-ID (in its own header block, not an attached one)."""
    end = re.search(rb"\r?\n\r?\n", raw).start()
    head, replaced = re.subn(rb"(?im)^Message-Id:[^\r\n]*", f"Message-ID: {message_id}".encode(),
                             raw[:end], count=1)
    assert replaced == 1
    return head + raw[end:]


def _mails() -> Delivery:
    bench = _bench_module()
    complaints = bench.corpus_mails(COMPLAINTS)
    rows = bench.corpus_rows()
    machine: dict[str, str] = {}
    machine_raws = []
    for name in sorted(MACHINE):
        raw = (DATA / name).read_bytes()
        for copy in range(COPIES_OF_EACH_MACHINE_MAIL):
            message_id = f"<machine.{copy}.{name.removesuffix('.eml')}@mx.example.net>"
            machine[message_id] = name
            machine_raws.append(_with_message_id(raw, message_id))
    duplicates = [mail.raw for mail in complaints[:SAME_BYTES_TWICE]]
    duplicates += [bench.complaint_mail(rows[index % len(rows)], index, hop=1).raw
                   for index in range(SAME_BYTES_TWICE, SAME_BYTES_TWICE + SAME_MAIL_OTHER_HOP)]
    deliveries = [mail.raw for mail in complaints] + machine_raws + duplicates
    random.Random(3).shuffle(deliveries)
    return Delivery({mail.message_id: mail for mail in complaints}, machine, deliveries)


@pytest.fixture(scope="module")
def delivery() -> Delivery:
    return _mails()


@pytest.fixture(autouse=True)
def _imap_password(imap, monkeypatch):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)


def _worker(config: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as output:
        return subprocess.Popen([sys.executable, "-m", "worker.cli", "--config", str(config), "run", "--once"],
                                stdout=output, stderr=subprocess.STDOUT)


def _count_cases(database: Path) -> int:
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as connection:
            return connection.execute("SELECT count(*) FROM cases").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet, or not migrated yet


def _kill_in_smtp_dialogue(worker: subprocess.Popen, database: Path, smtp, log: Path) -> int:
    """Once KILL_AT_CASES cases exist, hold the next RCPT and SIGKILL the worker while it waits:
    a mail is claimed (`sending`) and may or may not have reached the server, the hard case."""
    deadline = time.monotonic() + 150
    while (seen := _count_cases(database)) < KILL_AT_CASES:
        assert worker.poll() is None, f"the worker ended early:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"only {seen} cases after 150 s:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)
    smtp.handler.rcpt_delay = 30
    smtp.handler.rcpt_seen.clear()
    assert smtp.handler.rcpt_seen.wait(60), "the worker never reached the SMTP server again"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    smtp.handler.rcpt_delay = 0
    return _count_cases(database)


def _outcome(app: App, delivery: Delivery, smtp) -> dict:
    """Checks every exactly-once property of a finished run; returns its counts to compare."""
    with app.db.sessions() as session:
        raws = session.execute(select(RawMessage.id, RawMessage.message_id, RawMessage.sha256,
                                      RawMessage.status, RawMessage.reason, RawMessage.case_id)).all()
        cases = session.execute(select(Case.id, Case.first_message_id, Case.complainant_address)).all()
        opened_from = dict(session.execute(select(CaseEvent.case_id, CaseEvent.raw_message_id)
                                           .where(CaseEvent.kind == "opened")).all())
        outbox = session.execute(select(OutgoingMail.case_id, OutgoingMail.kind, OutgoingMail.status,
                                        OutgoingMail.message_id)).all()

    # No raw message stored twice: one row per distinct mail, whatever came twice.
    assert len(raws) == COMPLAINTS + len(delivery.machine)
    assert len({raw.message_id for raw in raws}) == len(raws)
    assert len({raw.sha256 for raw in raws}) == len(raws)
    assert {raw.message_id for raw in raws} == set(delivery.complaints) | set(delivery.machine)

    # Machine mail: stored, ignored with its reason, no case.
    raw_by_id = {raw.id: raw for raw in raws}
    for raw in raws:
        if raw.message_id in delivery.machine:
            rules = MACHINE[delivery.machine[raw.message_id]]
            assert raw.status == "ignored" and raw.case_id is None, raw
            assert raw.reason.removeprefix("machine mail: ") in rules, raw.reason
        else:
            assert raw.status == "processed" and raw.case_id is not None, raw

    # Exactly one case per real complaint: each case's first raw message is one delivered mail.
    assert len(cases) == COMPLAINTS
    first_raws = [raw_by_id[opened_from[case.id]] for case in cases]
    assert sorted(raw.message_id for raw in first_raws) == sorted(delivery.complaints)
    for case, raw in zip(cases, first_raws, strict=True):
        assert raw.case_id == case.id and case.first_message_id == raw.message_id
        assert case.complainant_address == delivery.complaints[raw.message_id].sender

    # One acknowledgement and one forward row per case in the outbox; nothing for machine mail.
    assert {case_id for case_id, _, _, _ in outbox} == {case.id for case in cases}
    kinds = Counter((case_id, kind) for case_id, kind, _, _ in outbox)
    assert all(kinds[(case.id, "acknowledgement")] == 1 for case in cases)
    assert all(kinds[(case.id, "forward")] == 1 for case in cases)

    # The SMTP server got each outgoing mail at most once, so at most one acknowledgement a case.
    sent_ids = Counter(BytesHeaderParser(policy=compat32).parsebytes(received.data)["Message-ID"]
                       for received in smtp.received)
    assert set(sent_ids.values()) <= {1}
    row_of = {message_id: (case_id, kind, status) for case_id, kind, status, message_id in outbox}
    assert set(sent_ids) <= set(row_of)
    acknowledged = Counter(row_of[m][0] for m in sent_ids if row_of[m][1] == "acknowledgement")
    assert set(acknowledged.values()) <= {1}
    statuses = Counter(status for _, _, status, _ in outbox)
    for message_id, (_, _, status) in row_of.items():
        if status == "sent":
            assert sent_ids[message_id] == 1
    return {
        "raw_messages": Counter(raw.status for raw in raws),
        "ignored_for": Counter(raw.reason for raw in raws if raw.status == "ignored"),
        "cases": len(cases),
        "first_messages": frozenset(delivery.complaints),
        "acknowledgements": sum(1 for _, kind, _, _ in outbox if kind == "acknowledgement"),
        "forwards": sum(1 for _, kind, _, _ in outbox if kind == "forward"),
        "outbox_statuses": statuses,
    }


def _deliver_all(imap, delivery: Delivery) -> None:
    for raw in delivery.deliveries:
        imap.deliver(raw)


def test_sigkill_mid_run_then_restart_opens_one_case_per_complaint(tmp_path, imap, smtp, delivery,
                                                                   caplog):
    _deliver_all(imap, delivery)
    (killed_dir := tmp_path / "killed").mkdir()
    config = write_config(killed_dir, imap, smtp)
    log = killed_dir / "worker.log"
    cases_at_kill = _kill_in_smtp_dialogue(_worker(config, log), killed_dir / "triage.db", smtp, log)
    assert KILL_AT_CASES <= cases_at_kill < COMPLAINTS, "the kill did not land mid-run"

    # The default 600 s sending lease: a mail the killed worker had claimed (`sending`) may have
    # reached the SMTP server already, so it is not sent again until the lease passes; it stays
    # `sending` through this restart, and `run --once` does not wait for it.
    app = App(load_config(config))
    with caplog.at_level(logging.WARNING, logger="triage.run"):
        Runner(app).run_once(timeout=120)
    assert "work still pending" not in caplog.text
    killed = _outcome(app, delivery, smtp)
    stuck = killed["outbox_statuses"]["sending"]
    assert set(killed["outbox_statuses"]) <= {"sent", "sending"}
    assert 1 <= stuck <= app.config.broker.threads  # the mails in flight at the kill

    # The same mails, the same order, no kill: the same counts.
    imap.clear()
    _deliver_all(imap, delivery)
    other_smtp = start_smtp()
    try:
        (whole_dir := tmp_path / "whole").mkdir()
        config = write_config(whole_dir, imap, other_smtp)
        worker = _worker(config, whole_dir / "worker.log")
        assert worker.wait(150) == 0, (whole_dir / "worker.log").read_text()[-3000:]
        whole = _outcome(App(load_config(config)), delivery, other_smtp)
    finally:
        other_smtp.stop()
    assert whole["outbox_statuses"].keys() == {"sent"}
    for key in ("raw_messages", "ignored_for", "cases", "first_messages", "acknowledgements", "forwards"):
        assert killed[key] == whole[key], key
