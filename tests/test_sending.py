"""Sending over real SMTP: retries of 4xx, no retry of 5xx, and a worker killed mid-send."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlalchemy import select

from models.base import utcnow
from models.cases import CaseEvent
from models.mail import OutgoingMail
from worker.app import App
from worker.config import SmtpConfig, load_config
from worker.mailer import SmtpConnection, TemporaryFailure
from worker.runner import Runner

from harness import mail, make_app, write_config

COMPLAINT = "快递柜里的包裹被人拿走了，运单号SF1234567890123，要求赔偿。李先生"


@pytest.fixture(autouse=True)
def _imap_password(imap, monkeypatch):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)


def _rows(app) -> list[OutgoingMail]:
    with app.db.sessions() as session:
        return list(session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def test_451_then_250_delivers_exactly_once(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    smtp.reply("451 4.3.0 try again later")  # the first DATA of this run is refused, then all pass
    imap.deliver(mail("li@qq.com", "包裹丢了", COMPLAINT))
    Runner(app).run_once(timeout=60)
    rows = _rows(app)
    assert rows and all(row.status == "sent" for row in rows)
    assert sum(row.attempts for row in rows) == len(rows) + 1
    delivered = Counter(message_from_bytes(r.data, policy=email_policy.default)["Message-ID"]
                        for r in smtp.received)
    assert set(delivered) == {row.message_id for row in rows}
    assert set(delivered.values()) == {1}
    assert len(smtp.refused) == 1 and smtp.refused[0][1].startswith("451")


def test_550_fails_for_good_and_alerts_the_desk(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    smtp.reject_recipient("li@qq.com", "550 5.1.1 no such user")
    imap.deliver(mail("li@qq.com", "包裹丢了", COMPLAINT))
    Runner(app).run_once(timeout=60)
    rows = {row.kind: row for row in _rows(app)}
    ack = rows["acknowledgement"]
    assert ack.status == "failed" and "550" in ack.last_error and ack.attempts == 1
    assert rows["mail_failed"].status == "sent"
    assert rows["mail_failed"].to_addresses == [app.policy.organisation.desk_address]
    with app.db.sessions() as session:
        events = session.scalars(select(CaseEvent.kind)).all()
    assert "mail_failed" in events
    # Run again: nothing is retried.
    Runner(app).run_once(timeout=30)
    assert _rows(app)[0].attempts == 1
    assert not any("li@qq.com" in r.rcpt_tos for r in smtp.received)


def test_worker_killed_while_sending_sends_each_mail_once_after_restart(tmp_path, imap, smtp):
    config = write_config(tmp_path, imap, smtp, extra="\n[worker]\nsending_lease = 1.0\n")
    imap.deliver(mail("li@qq.com", "包裹丢了", COMPLAINT))
    smtp.handler.rcpt_delay = 30  # the worker hangs in the SMTP dialogue …
    environment = {**os.environ, "TRIAGE_CONFIG": str(config)}
    worker = subprocess.Popen([sys.executable, "-m", "worker.cli", "run", "--once"], env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert smtp.handler.rcpt_seen.wait(60), "the worker never reached the SMTP server"
        os.kill(worker.pid, signal.SIGKILL)  # … and dies there
        worker.wait(10)
    finally:
        worker.kill()
    app = App(load_config(config))
    assert any(row.status == "sending" for row in _rows(app))
    smtp.handler.rcpt_delay = 0
    time.sleep(1.1)  # past the sending lease
    Runner(app).run_once(timeout=60)
    rows = _rows(app)
    assert all(row.status == "sent" for row in rows)
    delivered = Counter(message_from_bytes(r.data, policy=email_policy.default)["Message-ID"]
                        for r in smtp.received)
    assert delivered == Counter({row.message_id: 1 for row in rows})


def test_a_server_that_keeps_saying_451_costs_bounded_retries_then_waits(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)  # max_retries = 3 in the test configuration
    smtp.reply(*["451 4.3.0 try again later"] * 50)
    imap.deliver(mail("li@qq.com", "包裹丢了", COMPLAINT))
    started = time.monotonic()
    Runner(app).run_once(timeout=120)
    assert time.monotonic() - started < 60
    rows = _rows(app)
    assert rows and all(row.status == "pending" and row.attempts == 4 for row in rows)
    assert all(row.next_attempt_at > utcnow() for row in rows)  # the sweep hands it over later
    assert smtp.received == []


def test_a_batch_shares_one_connection_and_a_dropped_one_loses_nothing(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    for n in range(4):
        imap.deliver(mail(f"li{n}@qq.com", "包裹丢了", COMPLAINT))
    smtp.handler.hang_up_at_data = 3  # the server hangs up in the middle of the batch
    Runner(app).run_once(timeout=60)
    rows = _rows(app)
    assert len(rows) >= 8 and all(row.status == "sent" for row in rows)
    delivered = Counter(message_from_bytes(r.data, policy=email_policy.default)["Message-ID"]
                        for r in smtp.received)
    assert delivered == Counter({row.message_id: 1 for row in rows})
    # One connection for the batch, a new one after the hang-up, one for the retried mail:
    # not one a mail.
    assert smtp.handler.connections <= 3
    assert sum(row.attempts for row in rows) == len(rows) + 1


def test_an_unreachable_server_costs_one_timeout_a_batch_not_one_a_mail():
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, then never says a word
    accepted = []
    threading.Thread(target=lambda: accepted.extend(silent.accept() for _ in range(5)), daemon=True).start()
    smtp = SmtpConfig(host="127.0.0.1", port=silent.getsockname()[1], timeout=0.5)
    mails = [OutgoingMail(id=n, kind="acknowledgement", to_addresses=[f"k{n}@qq.com"], cc_addresses=[],
                          subject="您的投诉已受理", body_text="正文", body_html=None, headers={},
                          message_id=f"<{n}@example.com>") for n in range(5)]
    started = time.monotonic()
    with SmtpConnection(smtp) as connection:
        for mail in mails:
            with pytest.raises(TemporaryFailure):
                connection.deliver(mail)
    assert time.monotonic() - started < 1.5  # one 0.5 s timeout, then the rest deferred at once
    assert len(accepted) == 1
    silent.close()
