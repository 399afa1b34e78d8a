"""A complaint's whole life by mail, on real loopback servers: Dovecot, aiosmtpd, SQLite."""

from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from models.base import utcnow
from models.cases import Case, Deadline
from models.db import Database
from models.mail import OutgoingMail
from worker.cli import triage
from worker.runner import Runner

from harness import mail, make_app

COMPLAINT = ("上周六预约了上门回收旧冰箱，说好上午十点到，结果回收员下午三点才来，"
             "来了还嫌东西多态度很差，称重的时候也不让我看秤。我要求给个说法并道歉！\n\n张女士 13800138000")


def _sent_to(smtp, address: str) -> list:
    return [message_from_bytes(r.data, policy=email_policy.default)
            for r in smtp.received if address in r.rcpt_tos]


@pytest.fixture(params=["sqlite+stub", "postgres+redis"])
def app(request, tmp_path, imap, smtp, monkeypatch):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)
    if request.param == "sqlite+stub":
        return make_app(tmp_path, imap, smtp)
    database_url = request.getfixturevalue("pg_url")
    broker_url = request.getfixturevalue("redis_url")
    Database(database_url).upgrade()  # a server database is migrated on purpose, not on start
    return make_app(tmp_path, imap, smtp, database_url=database_url, broker_url=broker_url)


def _run(app):
    Runner(app).run_once(timeout=120)


def test_a_complaint_from_arrival_to_reopening(app, imap, smtp, tmp_path):
    imap.deliver(mail("zhang.nvshi@qq.com", "回收员迟到还态度差", COMPLAINT, name="张女士"))
    _run(app)
    with app.db.sessions() as session:
        case = session.scalars(select(Case)).one()
    department = app.policy.departments[case.department]

    # The customer has an acknowledgement naming the case number and the promised date.
    (ack,) = _sent_to(smtp, "zhang.nvshi@qq.com")
    assert case.number in ack["Subject"]
    ack_text = ack.get_body(("plain",)).get_content()
    assert "我们将在" in ack_text and "前给您答复" in ack_text
    assert ack["Reply-To"].startswith("complaints+")
    assert ack["Auto-Submitted"] == "auto-replied"
    # The department (or its head, for a complaint about staff) has the forward.
    forwards = _sent_to(smtp, department.address) + _sent_to(smtp, department.head)
    assert len(forwards) == 1
    forward = forwards[0]
    assert case.number in forward["Subject"] and "13800138000" not in forward.get_body(("plain",)).get_content()
    department_address = forward["To"]

    # The department asks for an extension by replying.
    with app.db.sessions() as session:
        answer_due_before = session.scalar(select(Deadline.due_at).where(
            Deadline.case_id == case.id, Deadline.stage == "answer"))
    imap.deliver(mail(department_address, f"Re: {forward['Subject']}", "延期 2 个工作日 需要调取监控",
                      in_reply_to=forward["Message-ID"]))
    _run(app)
    with app.db.sessions() as session:
        answer_due_after = session.scalar(select(Deadline.due_at).where(
            Deadline.case_id == case.id, Deadline.stage == "answer"))
    assert answer_due_after > answer_due_before
    assert app.policy.calendar.add(answer_due_before, "2 working days") == answer_due_after
    notices = _sent_to(smtp, "zhang.nvshi@qq.com")
    assert len(notices) == 2 and "延长" in notices[1]["Subject"]
    assert "需要调取监控" in notices[1].get_body(("plain",)).get_content()

    # The department answers: the customer receives it, the desk in copy.
    imap.deliver(mail(department_address, f"Re: {forward['Subject']}",
                      "经调查，回收员当天因前一单延误，已对其批评教育，并向您致歉。", in_reply_to=forward["Message-ID"]))
    _run(app)
    reply = _sent_to(smtp, "zhang.nvshi@qq.com")[-1]
    assert "处理结果" in reply["Subject"] and "已对其批评教育" in reply.get_body(("plain",)).get_content()
    assert app.policy.organisation.desk_address in reply["Cc"]

    # The customer is not satisfied: the case reopens for a second handling.
    imap.deliver(mail("zhang.nvshi@qq.com", f"Re: {reply['Subject']}", "不满意，问题没解决，秤的事还没说清楚",
                      in_reply_to=reply["Message-ID"]))
    _run(app)
    with app.db.sessions() as session:
        case = session.get(Case, case.id)
        assert (case.status, case.reopen_count) == ("reopened", 1)
    assert any("二次处理" in m["Subject"] for m in _sent_to(smtp, department.address) + _sent_to(smtp, department.head))

    # A month later every overdue stage is reminded and escalated exactly once.
    month_later = (utcnow() + timedelta(days=31)).isoformat()
    for _ in range(2):
        result = CliRunner().invoke(triage, ["--config", str(tmp_path / "triage.toml"),
                                             "sweep", "--at", month_later])
        assert result.exit_code == 0, result.output
    with app.db.sessions() as session:
        kinds = session.scalars(select(OutgoingMail.kind).where(OutgoingMail.case_id == case.id)).all()
        stages = session.scalars(select(Deadline).where(Deadline.case_id == case.id,
                                                         Deadline.round == 1)).all()
    overdue = [d for d in stages if d.stage in ("investigate", "resolve", "answer", "reply")]
    assert kinds.count("reminder") == len(overdue)
    assert len(overdue) == 4
    assert kinds.count("escalation") == 2 * (len(overdue) + 1)  # head and management; + overall
    escalations = [m for m in smtp.received if b"escalation" in m.data or "gm@" in " ".join(m.rcpt_tos)]
    assert escalations, "escalations reached the SMTP server"


@pytest.mark.rabbitmq
def test_the_same_actors_run_on_rabbitmq(tmp_path, imap, smtp, amqp_url, monkeypatch):
    """amqp://: a complaint is acknowledged and forwarded, and the answer reaches the customer."""
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)
    app = make_app(tmp_path, imap, smtp, broker_url=amqp_url)
    imap.deliver(mail("zhang.nvshi@qq.com", "回收员迟到还态度差", COMPLAINT, name="张女士"))
    _run(app)
    assert len(_sent_to(smtp, "zhang.nvshi@qq.com")) == 1  # the acknowledgement
    forward = next(m for m in (message_from_bytes(r.data, policy=email_policy.default) for r in smtp.received)
                   if "请于" in m["Subject"])
    imap.deliver(mail(forward["To"].addresses[0].addr_spec, f"Re: {forward['Subject']}",
                      "已核实并向您致歉。", in_reply_to=forward["Message-ID"]))
    _run(app)
    assert "已核实并向您致歉" in _sent_to(smtp, "zhang.nvshi@qq.com")[-1].get_body(("plain",)).get_content()
