"""Machine mail never opens a case: each rule on real-looking mail from tests/data."""

from pathlib import Path

import pytest

from worker.intake.machine_mail import machine_mail_reason
from worker.mail.parse import parse_message

DATA = Path(__file__).parent / "data"
OURS = frozenset({"complaints@example.com"})

MACHINE = {
    "auto_reply_out_of_office.eml": {"auto-submitted"},
    "auto_reply_no_header_outlook.eml": {"x-auto-response-suppress", "precedence-bulk"},
    "bounce_mailer_daemon_report.eml": {"auto-submitted", "bounce"},
    "mailing_list_newsletter.eml": {"precedence-bulk", "mailing-list"},
}


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.eml")))
def test_every_test_mail_is_judged(name):
    reason = machine_mail_reason(parse_message((DATA / name).read_bytes()), OURS)
    if name in MACHINE:
        assert reason in MACHINE[name]
    else:
        assert reason is None, f"{name} is a person's mail, judged {reason}"


def _mail(headers: str, sender: str = "kehu@qq.com") -> bytes:
    return (f"From: {sender}\r\nTo: complaints@example.com\r\nSubject: test\r\n{headers}"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n你好\r\n").encode()


@pytest.mark.parametrize("headers, sender, expected", [
    ("Auto-Submitted: auto-generated\r\n", "kehu@qq.com", "auto-submitted"),
    ("Auto-Submitted: no\r\n", "kehu@qq.com", None),
    ("Precedence: junk\r\n", "kehu@qq.com", "precedence-bulk"),
    ("List-Unsubscribe: <mailto:u@x.com>\r\n", "kehu@qq.com", "mailing-list"),
    ("X-Loop: complaints@example.com\r\n", "kehu@qq.com", "our-x-loop"),
    ("Return-Path: <>\r\n", "kehu@qq.com", "bounce"),
    ("", "postmaster@mx.example.net", "bounce"),
    ("", "complaints@example.com", "from-our-own-address"),
    ("", "kehu@qq.com", None),
])
def test_rules(headers, sender, expected):
    assert machine_mail_reason(parse_message(_mail(headers, sender)), OURS) == expected
