"""The CLI's case views, follow-up and satisfaction, major-case notices, and the jobs' guarantees:
idempotent when run twice, one delivery when two workers race for the same mail."""

import json
import threading
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from models.base import utcnow
from models.cases import Case, CaseEvent, Deadline
from models.db import Database
from models.mail import OutgoingMail, RawMessage
from worker.cases.deadlines import reminder_moment
from worker.cases.replies import close
from worker.cases.sending import send_outgoing
from worker.cli import triage
from worker.intake.poller import MailboxPoller
from worker.intake.service import process_raw_messages
from worker.runner import Runner

from harness import mail, make_app

COMPLAINT = "快递员把我的包裹直接扔在小区门口，里面的陶瓷碗全碎了，运单号 YT7712345678901，要求赔偿。陈女士 13912345678"
MAJOR = "你们回收站的秤有问题，我们小区十几户人都被少称了，已经联系了电视台记者，明天就去12315投诉！"


@pytest.fixture(autouse=True)
def _imap_password(imap, monkeypatch):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)


def _cli(tmp_path, *args):
    return CliRunner().invoke(triage, ["--config", str(tmp_path / "triage.toml"), *args])


def test_help_lists_every_command_with_one_line():
    result = CliRunner().invoke(triage, ["--help"])
    assert result.exit_code == 0
    for command in ("cases", "db", "mail", "mailboxes", "policy", "retention", "run", "sweep"):
        assert f"  {command} " in result.output


def test_cases_list_and_show(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    imap.deliver(mail("chen@qq.com", "包裹被扔门口碗全碎了", COMPLAINT, name="陈女士"))
    Runner(app).run_once(timeout=60)
    listed = _cli(tmp_path, "cases", "list", "--format", "jsonl")
    assert listed.exit_code == 0, listed.output
    (row,) = [json.loads(line) for line in listed.output.splitlines()]
    assert set(row) >= {"number", "status", "kind", "category", "department", "severity", "customer",
                        "created_at", "next_due"}
    assert row["customer"] == "chen@qq.com" and row["next_due"]
    table = _cli(tmp_path, "cases", "list")
    assert table.exit_code == 0 and row["number"] in table.output
    shown = _cli(tmp_path, "cases", "show", row["number"], "--format", "json")
    detail = json.loads(shown.output)
    assert "YT7712345678901" in detail["order_numbers"] and detail["phones"] == ["13912345678"]
    assert {d["stage"] for d in detail["deadlines"]} >= {"dispatch", "answer", "reply", "overall"}
    history = " ".join(item["what"] for item in detail["history"])
    assert "mail in" in history and "acknowledgement" in history and "forward" in history
    text = _cli(tmp_path, "cases", "show", row["number"])
    assert text.exit_code == 0 and "deadlines:" in text.output and "history:" in text.output
    missing = _cli(tmp_path, "cases", "show", "TS-19990101-0001")
    assert missing.exit_code != 0 and "no case TS-19990101-0001" in missing.output


def test_follow_up_after_the_reply_and_the_customers_satisfaction(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    imap.deliver(mail("chen@qq.com", "包裹被扔门口碗全碎了", COMPLAINT))
    Runner(app).run_once(timeout=60)
    forward = next(m for m in (message_from_bytes(r.data, policy=email_policy.default) for r in smtp.received)
                   if "请于" in m["Subject"])
    imap.deliver(mail(forward["To"].addresses[0].addr_spec, f"Re: {forward['Subject']}",
                      "已按保价赔付 120 元并向您致歉。", in_reply_to=forward["Message-ID"]))
    Runner(app).run_once(timeout=60)
    case = _only_case(app)
    assert case.status == "replied"
    # Nothing yet; the follow-up goes out after the policy's working days.
    assert _cli(tmp_path, "sweep").exit_code == 0
    assert not [r for r in smtp.received if "回访" in message_from_bytes(r.data, policy=email_policy.default)["Subject"]]
    later = (utcnow() + timedelta(days=10)).isoformat()
    assert _cli(tmp_path, "sweep", "--at", later).exit_code == 0
    follow_ups = [m for m in (message_from_bytes(r.data, policy=email_policy.default) for r in smtp.received)
                  if "回访" in m["Subject"]]
    assert len(follow_ups) == 1
    assert _cli(tmp_path, "sweep", "--at", later).exit_code == 0  # a second sweep sends nothing new
    assert len([m for m in (message_from_bytes(r.data, policy=email_policy.default) for r in smtp.received)
                if "回访" in m["Subject"]]) == 1
    with app.db.sessions() as session:
        assert session.scalars(select(Case)).one().status == "closed"
        assert session.scalar(select(OutgoingMail).where(OutgoingMail.kind == "follow_up")) is not None
        # The follow-up counts as met, not cancelled by the closing (statistics read these states).
        states = dict(session.execute(select(Deadline.stage, Deadline.state)).all())
    assert states["follow_up"] == "done" and states["archive"] == "pending"
    assert "pending" not in {state for stage, state in states.items() if stage != "archive"}
    imap.deliver(mail("chen@qq.com", f"Re: {follow_ups[0]['Subject']}", "满意，谢谢",
                      in_reply_to=follow_ups[0]["Message-ID"]))
    Runner(app).run_once(timeout=60)
    case = _only_case(app)
    with app.db.sessions() as session:
        satisfaction = session.scalar(select(CaseEvent).where(CaseEvent.kind == "satisfaction"))
    assert case.status == "closed" and satisfaction.detail == {"value": "satisfied"}


def test_a_major_case_is_reported_to_management_and_legal(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    imap.deliver(mail("zhao@163.com", "集体投诉回收站少称", MAJOR))
    Runner(app).run_once(timeout=60)
    case = _only_case(app)
    assert case.severity in ("major", "urgent")
    notices = [r for r in smtp.received if "gm@recycling.example.com" in r.rcpt_tos]
    assert len(notices) == 1 and "legal@recycling.example.com" in notices[0].rcpt_tos
    body = message_from_bytes(notices[0].data, policy=email_policy.default).get_body(("plain",)).get_content()
    assert "判定依据" in body and ("12315" in body or "记者" in body)


def _only_case(app) -> Case:
    with app.db.sessions() as session:
        return session.scalars(select(Case)).one()


def _store_one_complaint(app, imap) -> int:
    """Delivered and stored by the poller, not yet processed: the id of its raw message."""
    return _store_complaints(app, imap, 1)[0]


def _store_complaints(app, imap, count: int) -> list[int]:
    for n in range(count):
        imap.deliver(mail(f"chen{n}@qq.com", "包裹被扔门口碗全碎了", COMPLAINT))
    stored = []
    poller = MailboxPoller(app.config.mailboxes[0], app.db, on_stored=stored.extend)
    try:
        poller.poll_once()
    finally:
        poller.close()
    return stored


def test_case_open_is_idempotent_when_run_twice(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    raw_id = _store_one_complaint(app, imap)
    first = process_raw_messages(app, [raw_id])
    second = process_raw_messages(app, [raw_id])
    assert first and second == []
    with app.db.sessions() as session:
        assert len(session.scalars(select(Case)).all()) == 1
        assert len(session.scalars(select(OutgoingMail)).all()) == len(first)


@pytest.mark.postgres
def test_two_workers_racing_for_one_batch_open_one_case_per_message(tmp_path, imap, smtp, pg_url):
    Database(pg_url).upgrade()
    app = make_app(tmp_path, imap, smtp, database_url=pg_url)
    raw_ids = _store_complaints(app, imap, 12)
    queued: list[list[int]] = []
    # Overlapping batches in different orders, four workers at once: rows are claimed in id
    # order and a row another worker holds is skipped, so nobody waits in a deadlock.
    batches = [raw_ids, raw_ids[::-1], raw_ids[:6], raw_ids[4:]]
    threads = [threading.Thread(target=lambda b=batch: queued.append(process_raw_messages(app, b)))
               for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with app.db.sessions() as session:
        cases = session.scalars(select(Case)).all()
        statuses = set(session.scalars(select(RawMessage.status)))
        outbox = session.scalars(select(OutgoingMail.id)).all()
    assert len(cases) == 12 and statuses == {"processed"}
    assert sorted(mail_id for ids in queued for mail_id in ids) == sorted(outbox)


@pytest.mark.postgres
def test_workers_racing_for_the_same_batch_deliver_each_mail_once(tmp_path, imap, smtp, pg_url):
    Database(pg_url).upgrade()
    app = make_app(tmp_path, imap, smtp, database_url=pg_url)
    mail_ids = process_raw_messages(app, _store_complaints(app, imap, 3))
    results = []

    def send():
        results.append(send_outgoing(app.db, app.env, app.config.smtp, mail_ids, utcnow()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mail_ids) >= 6
    for mail_id in mail_ids:
        assert [outcomes[mail_id] for outcomes in results].count("sent") == 1
    assert len(smtp.received) == len(mail_ids)


def test_reminder_at_three_quarters_then_head_then_management_each_once(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    imap.deliver(mail("chen@qq.com", "包裹被扔门口碗全碎了", COMPLAINT))
    Runner(app).run_once(timeout=60)
    with app.db.sessions() as session:
        investigate = session.scalar(select(Deadline).where(Deadline.stage == "investigate"))
        case = session.scalars(select(Case)).one()
    department = app.policy.departments[case.department]
    remind_at = reminder_moment(app.policy, investigate.starts_at, investigate.due_at)
    management_at = app.policy.calendar.add(investigate.due_at, "1 working day")
    minute = timedelta(minutes=1)

    def sweep_at(moment):
        assert _cli(tmp_path, "sweep", "--at", moment.isoformat()).exit_code == 0
        with app.db.sessions() as session:
            rows = session.scalars(select(OutgoingMail).where(OutgoingMail.kind.in_(("reminder", "escalation")))).all()
        return [(row.kind, row.to_addresses[0], row.subject.split("「")[1].split("」")[0]) for row in rows]

    assert sweep_at(remind_at - minute) == []
    assert sweep_at(remind_at + minute) == [("reminder", department.address, "调查核实")]
    assert sweep_at(remind_at + minute) == [("reminder", department.address, "调查核实")]
    after_due = sweep_at(investigate.due_at + minute)
    assert ("escalation", department.head, "调查核实") in after_due
    assert not any(to == "gm@recycling.example.com" for _, to, _ in after_due)
    later = sweep_at(management_at + minute)
    assert later.count(("escalation", "gm@recycling.example.com", "调查核实")) == 1
    assert later.count(("escalation", department.head, "调查核实")) == 1


def test_an_admin_moving_a_case_to_another_department_forwards_it_there(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    imap.deliver(mail("chen@qq.com", "包裹被扔门口碗全碎了", COMPLAINT))
    Runner(app).run_once(timeout=60)
    case = _only_case(app)
    target = "finance" if case.department != "finance" else "logistics"
    result = _cli(tmp_path, "cases", "relabel", case.number, "--department", target, "--by", "admin-li")
    assert result.exit_code == 0 and "queued" in result.output, result.output
    Runner(app).run_once(timeout=60)  # the worker sends what the correction queued
    address = app.policy.departments[target].address
    (forward,) = [m for m in (message_from_bytes(r.data, policy=email_policy.default) for r in smtp.received)
                  if address in m["To"]]
    assert "转派" in forward["Subject"] and "由管理员 admin-li 改派" in forward.get_body(("plain",)).get_content()


def test_closed_cases_are_archived_after_the_policys_working_days(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    imap.deliver(mail("chen@qq.com", "包裹被扔门口碗全碎了", COMPLAINT))
    Runner(app).run_once(timeout=60)
    with app.db.transaction() as session:
        case = session.scalars(select(Case)).one()
        close(session, app.env, case, utcnow())
        archive_due = session.scalar(select(Deadline.due_at).where(Deadline.stage == "archive"))
    assert _cli(tmp_path, "sweep", "--at", (archive_due - timedelta(minutes=1)).isoformat()).exit_code == 0
    with app.db.sessions() as session:
        assert session.scalars(select(Case)).one().status == "closed"
    assert _cli(tmp_path, "sweep", "--at", (archive_due + timedelta(minutes=1)).isoformat()).exit_code == 0
    with app.db.sessions() as session:
        archived = session.scalars(select(Case)).one()
    assert archived.status == "archived" and archived.archived_at is not None


def test_the_mailboxes_poll_job_stores_and_opens(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    imap.deliver(mail("chen@qq.com", "包裹被扔门口碗全碎了", COMPLAINT))
    Runner(app, ("worker",)).finish(lambda jobs: jobs.poll_mailbox.send("complaints"))
    with app.db.sessions() as session:
        assert len(session.scalars(select(Case)).all()) == 1
