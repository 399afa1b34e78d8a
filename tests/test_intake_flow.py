"""Intake and lifecycle rules end to end on Dovecot + aiosmtpd + SQLite, one rule per test."""

from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from models.base import utcnow
from models.cases import Case, CaseEvent, LabelCorrection
from models.mail import OutgoingMail, RawMessage
from models.model_versions import ModelVersion
from worker.app import App
from worker.cli import triage
from worker.config import load_config
from worker.intake import service
from worker.runner import Runner

from harness import mail, make_app, write_config

DATA = Path(__file__).parent / "data"
COMPLAINT = "你们的回收员上门称重时故意少称了五公斤，我当场指出他还骂人，要求道歉并补差价。王先生"


@pytest.fixture(autouse=True)
def _imap_password(imap, monkeypatch):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)


def _run(app) -> None:
    Runner(app).run_once(timeout=60)


def _cases(app) -> list[Case]:
    with app.db.sessions() as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


def _events(app, case_id: int) -> list[str]:
    with app.db.sessions() as session:
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)))


def _sent(smtp, address: str) -> list:
    return [message_from_bytes(r.data, policy=email_policy.default) for r in smtp.received
            if address in r.rcpt_tos]


def _raw(app, status: str) -> list[RawMessage]:
    with app.db.sessions() as session:
        return list(session.scalars(select(RawMessage).where(RawMessage.status == status)))


def _open_one(app, imap, sender="wang@163.com", body=COMPLAINT) -> Case:
    imap.deliver(mail(sender, "回收员少称还骂人", body))
    _run(app)
    return _cases(app)[-1]


def test_customer_adding_information_with_the_case_number_in_the_subject(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    case = _open_one(app, imap)
    imap.deliver(mail("wang@163.com", f"补充材料 [{case.number}]", "补充：当时的过磅单照片在附件，订单号 HS20261103001"))
    _run(app)
    assert len(_cases(app)) == 1
    assert "customer_information" in _events(app, case.id)
    forwards = [m for m in smtp.received if "客户补充" in message_from_bytes(m.data, policy=email_policy.default)["Subject"]]
    assert len(forwards) == 1


def test_reply_address_token_threads_and_a_forged_one_does_not(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    case = _open_one(app, imap)
    (ack,) = _sent(smtp, "wang@163.com")
    reply_to = ack["Reply-To"].addresses[0].addr_spec
    imap.deliver(mail("wang@163.com", "还有一件事", "另外他还把我家门口的花盆踢坏了。", to=reply_to))
    forged = reply_to.replace(case.reply_token.split(".")[1], "000000000000")
    imap.deliver(mail("li@163.com", "还有一件事", "我也要投诉回收员态度差，乱收费。", to=forged))
    _run(app)
    cases = _cases(app)
    assert len(cases) == 2 and cases[1].complainant_address == "li@163.com"
    assert "customer_information" in _events(app, case.id)


def test_machine_mail_is_ignored_and_never_answered(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    for name in ("auto_reply_out_of_office.eml", "bounce_mailer_daemon_report.eml",
                 "mailing_list_newsletter.eml", "auto_reply_no_header_outlook.eml"):
        imap.deliver((DATA / name).read_bytes())
    _run(app)
    assert _cases(app) == []
    ignored = _raw(app, "ignored")
    assert len(ignored) == 4 and all(m.reason.startswith("machine mail:") for m in ignored)
    assert smtp.received == []


def test_mail_over_the_size_limit_is_kept_and_the_sender_told(tmp_path, imap, smtp):
    policy = tmp_path / "policy.toml"
    policy.write_text('extends = "recycling"\n[intake]\nmax_message_bytes = 3000\n', encoding="utf-8")
    app = _app_with_policy(tmp_path, imap, smtp, policy)
    big = mail("wang@163.com", "照片", COMPLAINT + "\n" + "很大的附件" * 400)
    imap.deliver(big)
    _run(app)
    assert _cases(app) == []
    (kept,) = _raw(app, "ignored")
    # Dovecot's Maildir stores CRLF line ends as LF; the bytes are otherwise the same.
    assert kept.reason.startswith("too large")
    assert kept.raw.replace(b"\r\n", b"\n") == big.replace(b"\r\n", b"\n")
    (note,) = _sent(smtp, "wang@163.com")
    assert "过大" in note["Subject"] and note["Auto-Submitted"] == "auto-replied"


def _app_with_policy(tmp_path, imap, smtp, policy_path):
    config = write_config(tmp_path, imap, smtp)
    text = config.read_text(encoding="utf-8").replace('preset = "recycling"', f'path = "{policy_path}"')
    config.write_text(text, encoding="utf-8")
    return App(load_config(config))


def test_automatic_answers_are_limited_per_sender_and_hour(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    for n in range(7):
        imap.deliver(mail("loop@163.com", f"投诉{n}", f"第{n}次：快递员把包裹扔在门口就走了，东西摔坏了。"))
    _run(app)
    assert len(_cases(app)) == 7
    assert len([m for m in _sent(smtp, "loop@163.com") if "已受理" in m["Subject"]]) == 5
    suppressed = sum(_events(app, c.id).count("auto_answer_suppressed") for c in _cases(app))
    assert suppressed == 2


def test_out_of_scope_mail_gets_the_reason_and_closes(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp, preset="service_hall")
    imap.deliver(mail("ma@qq.com", "投诉物业", "我们小区的物业公司乱收停车费，还不开发票，请你们管一管。"))
    _run(app)
    (case,) = _cases(app)
    assert case.status == "out_of_scope" and case.closed_at is not None
    (answer,) = _sent(smtp, "ma@qq.com")
    assert "不属于本大厅的受理范围" in answer.get_body(("plain",)).get_content()
    assert not [m for m in smtp.received if "ma@qq.com" not in m.rcpt_tos]  # nothing forwarded


def test_a_repeat_complaint_is_linked_and_raised(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    first = _open_one(app, imap)
    imap.deliver(mail("wang@163.com", "回收员少称还骂人", COMPLAINT))  # the same words again, a new mail
    _run(app)
    second = _cases(app)[-1]
    assert second.id != first.id and second.repeat_of_id == first.id
    assert first.severity != "normal" or second.severity == "major"
    assert "repeat" in _events(app, second.id)


def _close(app, case: Case, days_ago: int) -> None:
    with app.db.transaction() as session:
        session.execute(update(Case).where(Case.id == case.id).values(
            status="closed", closed_at=utcnow() - timedelta(days=days_ago)))


def test_writing_on_a_closed_case_reopens_it_within_the_window_and_opens_a_linked_one_after(
        tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    case = _open_one(app, imap)
    _close(app, case, days_ago=3)
    imap.deliver(mail("wang@163.com", f"Re: [{case.number}]", "你们说处理了，可是差价到现在也没退给我。"))
    _run(app)
    reopened = _cases(app)[0]
    assert (len(_cases(app)), reopened.status, reopened.reopen_count) == (1, "reopened", 1)
    _close(app, case, days_ago=60)
    imap.deliver(mail("wang@163.com", f"Re: [{case.number}]", "又来了，这次换了个回收员还是少称。"))
    _run(app)
    cases = _cases(app)
    assert len(cases) == 2 and cases[1].related_case_id == case.id


def test_bad_mail_is_quarantined_listed_and_replayed(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    with app.db.transaction() as session:  # an admin promoted a model whose files are gone
        session.add(ModelVersion(version="broken", path=str(tmp_path / "missing-model"),
                                 data_sha256="0" * 64, active=True))
    imap.deliver(mail("wang@163.com", "回收员少称还骂人", COMPLAINT))
    _run(app)
    (failed,) = _raw(app, "failed")
    assert failed.failed_step == "classify" and "Traceback" in failed.reason and failed.raw
    config = str(tmp_path / "triage.toml")
    listing = CliRunner().invoke(triage, ["--config", config, "mail", "list", "--status", "failed",
                                          "--format", "jsonl"])
    assert listing.exit_code == 0 and '"step": "classify"' in listing.output
    with app.db.transaction() as session:
        session.execute(update(ModelVersion).values(active=False))
    retried = CliRunner().invoke(triage, ["--config", config, "mail", "retry", "--failed"])
    assert retried.exit_code == 0 and f"{failed.id}: processed" in retried.output
    assert len(_cases(app)) == 1


def test_unparseable_bytes_are_kept(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    imap.deliver(b"\x00\x01 not a mail at all \xff\xfe")
    _run(app)
    assert _cases(app) == []
    kept = _raw(app, "unparseable") + _raw(app, "ignored")
    assert len(kept) == 1 and b"not a mail at all" in kept[0].raw


def _forward_of(smtp, case: Case):
    return next(m for m in (message_from_bytes(r.data, policy=email_policy.default) for r in smtp.received)
                if case.number in m["Subject"] and "请于" in m["Subject"])


def _department_replies(imap, smtp, case: Case, text: str) -> None:
    """The department answers the forward by replying to it from its own address."""
    forward = _forward_of(smtp, case)
    imap.deliver(mail(forward["To"].addresses[0].addr_spec, f"Re: {forward['Subject']}", text,
                      in_reply_to=forward["Message-ID"]))


def _answer_waiting_for_approval(tmp_path, imap, smtp):
    """A case whose department has answered under a policy that has the desk approve answers:
    the policy file and the app."""
    policy = tmp_path / "policy.toml"
    policy.write_text('extends = "recycling"\n[lifecycle]\nreply_requires_approval = true\n', encoding="utf-8")
    app = _app_with_policy(tmp_path, imap, smtp, policy)
    case = _open_one(app, imap)
    _department_replies(imap, smtp, case, "已核实，补差价 20 元并致歉。")
    _run(app)
    return policy, app


def test_desk_approval_before_the_answer_reaches_the_customer(tmp_path, imap, smtp):
    _, app = _answer_waiting_for_approval(tmp_path, imap, smtp)
    desk = app.policy.organisation.desk_address
    (approval,) = [m for m in _sent(smtp, desk) if "待审核" in m["Subject"]]
    assert len(_sent(smtp, "wang@163.com")) == 1  # only the acknowledgement so far
    imap.deliver(mail(desk, f"Re: {approval['Subject']}", "发送", in_reply_to=approval["Message-ID"]))
    _run(app)
    reply = _sent(smtp, "wang@163.com")[-1]
    assert "补差价 20 元" in reply.get_body(("plain",)).get_content()


def test_answers_waiting_for_approval_reach_the_customer_once_approval_is_switched_off(
        tmp_path, imap, smtp):
    policy, app = _answer_waiting_for_approval(tmp_path, imap, smtp)
    assert len(_sent(smtp, "wang@163.com")) == 1  # the acknowledgement; the answer waits for the desk
    # The organisation drops the approval step; the answer already waiting must not be stranded.
    policy.write_text('extends = "recycling"\n', encoding="utf-8")
    app = _app_with_policy(tmp_path, imap, smtp, policy)
    _run(app)  # the sweep hands every answered case to case.reply
    _run(app)  # and again: composed once, sent once
    replies = [m for m in _sent(smtp, "wang@163.com") if "补差价 20 元" in m.get_body(("plain",)).get_content()]
    assert len(replies) == 1
    assert _cases(app)[0].status == "replied"


def test_reassignment_is_recorded_as_a_correction_and_forwarded(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    case = _open_one(app, imap)
    _department_replies(imap, smtp, case, "转派 财务部\n主要是差价退款问题")
    _run(app)
    (case,) = _cases(app)
    assert case.department == "finance"
    with app.db.sessions() as session:
        (correction,) = session.scalars(select(LabelCorrection)).all()
    assert (correction.head, correction.new_label, correction.source) == ("department", "finance", "department")
    assert any("转派" in m["Subject"] for m in _sent(smtp, "finance@recycling.example.com"))


def test_closing_by_the_department(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    case = _open_one(app, imap)
    _department_replies(imap, smtp, case, "结案\n已退回差价 20 元，回收员已调岗。")
    _run(app)
    (case,) = _cases(app)
    assert case.status == "closed"
    assert "已退回差价" in _sent(smtp, "wang@163.com")[-1].get_body(("plain",)).get_content()


def test_retention_dry_run_then_purge(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    case = _open_one(app, imap)
    _close(app, case, days_ago=4 * 365)
    config = str(tmp_path / "triage.toml")
    dry = CliRunner().invoke(triage, ["--config", config, "retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and f"would purge {case.number}" in dry.output
    assert _cases(app)[0].complainant_address == "wang@163.com"
    done = CliRunner().invoke(triage, ["--config", config, "retention", "run"])
    assert done.exit_code == 0 and f"purged {case.number}" in done.output
    (purged,) = _cases(app)
    assert purged.complainant_address is None and purged.category  # statistics stay
    with app.db.sessions() as session:
        assert session.scalar(select(RawMessage.raw).where(RawMessage.case_id == case.id)) is None
        assert all(not m.to_addresses for m in session.scalars(select(OutgoingMail)))


def _break_opening_of_bad_mail(monkeypatch):
    """A bug that only mail whose subject starts with 坏 meets while its case is opened; the
    real `open_case`, to put back."""
    opening = service.open_case

    def open_case_unless_bad(session, env, message, now, **kwargs):
        if message.parsed.subject.startswith("坏"):
            raise RuntimeError("a bug that only this message meets")
        return opening(session, env, message, now, **kwargs)

    monkeypatch.setattr(service, "open_case", open_case_unless_bad)
    return opening


def test_a_message_that_breaks_applying_does_not_stop_its_batch(tmp_path, imap, smtp, monkeypatch):
    app = make_app(tmp_path, imap, smtp)
    for n, subject in enumerate(["回收员少称", "坏消息：回收员骂人", "回收站太吵"]):
        imap.deliver(mail(f"kehu{n}@163.com", subject, COMPLAINT))
    opening = _break_opening_of_bad_mail(monkeypatch)
    _run(app)
    (failed,) = _raw(app, "failed")
    assert failed.failed_step == "apply" and "only this message" in failed.reason
    assert len(_cases(app)) == 2 and len(_raw(app, "processed")) == 2
    monkeypatch.setattr(service, "open_case", opening)  # the bug is fixed
    retried = CliRunner().invoke(triage, ["--config", str(tmp_path / "triage.toml"), "mail", "retry",
                                          str(failed.id)])
    assert retried.exit_code == 0 and f"{failed.id}: processed" in retried.output
    assert len(_cases(app)) == 3


def test_a_late_reply_in_a_failed_batch_still_opens_a_case_linked_to_the_old_one(
        tmp_path, imap, smtp, monkeypatch):
    app = make_app(tmp_path, imap, smtp)
    case = _open_one(app, imap)
    _close(app, case, days_ago=60)
    imap.deliver(mail("wang@163.com", f"Re: [{case.number}]", "又来了，这次换了个回收员还是少称。"))
    imap.deliver(mail("kehu@163.com", "坏消息", COMPLAINT))  # same batch, after it
    _break_opening_of_bad_mail(monkeypatch)
    _run(app)  # the batch fails on the second message; each is then applied on its own
    cases = _cases(app)
    assert len(cases) == 2 and cases[1].related_case_id == case.id
    assert len(_raw(app, "failed")) == 1


def test_the_batch_is_classified_at_once_and_a_message_it_chokes_on_fails_alone(tmp_path, imap, smtp):
    app = make_app(tmp_path, imap, smtp)
    classifier = app.classifiers.get()
    batch_sizes = []

    class Choosy:
        """The real classifier, except that it chokes on one message."""

        meta = classifier.meta

        def predict_many(self, rows, thresholds=None):
            batch_sizes.append(len(rows))
            if any("☃" in body for _, body in rows):
                raise ValueError("cannot read this one")
            return classifier.predict_many(rows, thresholds)

    app.classifiers.get = lambda: Choosy()
    for n in range(4):
        imap.deliver(mail(f"kehu{n}@163.com", "回收员少称", COMPLAINT + ("☃" if n == 2 else "")))
    _run(app)
    assert batch_sizes[0] == 4  # one call for the whole poll batch, then one per message
    (failed,) = _raw(app, "failed")
    assert failed.failed_step == "classify" and "cannot read this one" in failed.reason
    assert len(_cases(app)) == 3
