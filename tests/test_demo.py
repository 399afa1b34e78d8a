"""The newcomer's path: `triage demo` end to end, `triage run` on the embedded stack, and the
demo mailbox read the way intake reads it."""

import re
import time
from datetime import UTC, datetime
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from models.case_queries import list_cases
from models.raw_messages import raw_messages_with_status
from worker.app import App
from worker.cli import triage
from worker.config import load_config
from worker.demo.mails import customer_mail, first_batch, load_mailbox
from worker.intake.machine_mail import machine_mail_reason
from worker.mail.parse import parse_message

CASE_NUMBER = re.compile(r"TS-\d{8}-\d{4}")


def _eml(path: Path):
    return message_from_bytes(path.read_bytes(), policy=email_policy.default)


def _sent(sent_dir: Path, kind: str) -> list[Path]:
    return sorted(sent_dir.glob(f"[0-9][0-9][0-9][0-9]-{kind}-*.eml"))


# --------------------------------------------------------------------------- the mailbox


def test_the_demo_mailbox_is_about_thirty_mails_of_every_kind_and_script():
    mails = load_mailbox()
    raws = first_batch(mails, datetime.now(UTC))
    assert 28 <= len(raws) <= 34
    parsed = [parse_message(raw) for raw in raws]
    reasons = [machine_mail_reason(p, frozenset({"complaints@recycling.example.com"})) for p in parsed]
    assert sorted(r for r in reasons if r) == ["auto-submitted", "bounce"]
    assert sum(1 for m in mails if m.answer) == 1 and sum(1 for m in mails if m.addition) == 1
    assert len({m.sender for m in mails}) == len(mails)  # no sender hits the per-sender answer limit


@pytest.mark.parametrize("key, expected", [
    ("praise-gbk", "陈镕"),          # GBK bytes labelled gb2312, with a character outside GB2312
    ("late-delivery-tw", "包裹延誤"),  # Big5 from a Taiwanese client
    ("weighing-html", "朝向客户"),     # HTML only
])
def test_every_charset_of_the_demo_mailbox_decodes(key, expected):
    mail = next(m for m in load_mailbox() if m.key == key)
    parsed = parse_message(customer_mail(mail, datetime.now(UTC)))
    assert expected in parsed.subject + parsed.body_text
    assert parsed.from_name == mail.name


# --------------------------------------------------------------------------- triage demo


@pytest.mark.slow
def test_triage_demo_runs_the_whole_flow_in_under_a_minute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIAGE_CONFIG", raising=False)
    began = time.monotonic()
    result = CliRunner().invoke(triage, ["demo"])
    seconds = time.monotonic() - began
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert seconds < 60, f"the demo took {seconds:.0f} s"
    output = result.output

    assert len(set(CASE_NUMBER.findall(output))) >= 10
    assert "machine mail: auto-submitted" in output and "machine mail: bounce" in output
    assert "zheng.wei@partner-logistics.example.cn" in output
    assert "as the customer read it" in output and "as the department read it" in output
    assert "triage --config triage.toml run" in output

    directory = tmp_path / "var" / "demo"
    sent_dir = directory / "sent"
    assert (directory / "triage.db").exists() and "var/demo/sent/" in output
    assert len(_sent(sent_dir, "acknowledgement")) >= 20
    # The department's answer reached the customer, the desk in copy.
    (reply,) = _sent(sent_dir, "reply")
    reply = _eml(reply)
    assert reply["To"] == "zhang.li@qq.com" and "complaints@recycling.example.com" in reply["Cc"]
    assert "楼道墙面的修补" in reply.get_body(("plain",)).get_content()
    # The clock moved on: a reminder to the department, an escalation to its head.
    assert _sent(sent_dir, "reminder") and _sent(sent_dir, "escalation")
    assert any("-head_" in path.name for path in _sent(sent_dir, "escalation"))

    app = App(load_config(directory / "triage.toml"))
    with app.db.sessions() as session:
        cases = list_cases(session)
        ignored = raw_messages_with_status(session, ("ignored",))
        broken = raw_messages_with_status(session, ("failed", "unparseable", "new"))
        processed = raw_messages_with_status(session, ("processed",))
    assert len(cases) == 28 and len(ignored) == 2 and not broken
    assert any(r.reason.endswith("(subject-number)") for r in processed)  # the customer's addition
    assert any(r.reason.endswith("(in-reply-to)") for r in processed)     # the department's answer


def test_triage_run_with_no_configuration_runs_the_embedded_stack(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIAGE_CONFIG", raising=False)
    result = CliRunner().invoke(triage, ["run", "--once"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert '"stored": 30' in result.output
    assert len(list((tmp_path / "var" / "sent").glob("*-acknowledgement-*.eml"))) >= 20

    # A second run finds the mail handled: the demo mailbox is filled once per database.
    again = CliRunner().invoke(triage, ["run", "--once"])
    assert again.exit_code == 0, again.output + repr(again.exception)
    assert '"stored": 0' in again.output
    listed = CliRunner().invoke(triage, ["cases", "list", "--format", "jsonl"])
    assert len(listed.output.strip().splitlines()) == 28
