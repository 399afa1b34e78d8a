"""The demo mailbox: hand-written customer mails (mailbox.jsonl) and the machine mail around them.

Every message is built with the standard `email` package, the way the sender's client would
have written it: UTF-8 from most, Big5 from a Taiwanese client, GBK bytes labelled gb2312 from
an old Foxmail (the name 陈镕 is outside GB2312), one HTML-only mail. Message-IDs come from
the entry's key, so the demo can find the case a mail opened.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path

MAILBOX_FILE = Path(__file__).with_name("mailbox.jsonl")
COMPLAINTS_ADDRESS = "complaints@recycling.example.com"
# The mail server of the company, which bounces a mail it could not deliver.
OUR_MTA = "mx1.recycling.example.com"


@dataclass(frozen=True)
class DemoMail:
    key: str
    sender: str
    name: str
    subject: str
    body: str
    charset: str = "utf-8"     # "utf-8", "big5", or "gbk-as-gb2312"
    html: bool = False
    answer: str = ""           # what the department answers to this case
    addition: dict | None = None  # what the customer adds later: subject (with {number}), body


def load_mailbox(path: Path = MAILBOX_FILE) -> list[DemoMail]:
    mails = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            entry["sender"] = entry.pop("from")
            mails.append(DemoMail(**entry))
    return mails


def message_id(key: str, domain: str) -> str:
    return f"<{hashlib.sha256(f'demo:{key}'.encode()).hexdigest()[:24]}@{domain}>"


def mail_message_id(mail: DemoMail) -> str:
    return message_id(mail.key, _domain(mail.sender))


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def _headers(message: Message, address: str, sender: str, subject, sent_at: datetime,
             key: str) -> None:
    """`address` is the sender's address, `sender` the From header as the client wrote it."""
    message["From"] = sender
    message["To"] = COMPLAINTS_ADDRESS
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id(key, _domain(address))


def customer_mail(mail: DemoMail, sent_at: datetime) -> bytes:
    if mail.charset == "gbk-as-gb2312":
        return _gbk_labelled_gb2312(mail, sent_at)
    if mail.charset != "utf-8":
        message = MIMEText(mail.body, "html" if mail.html else "plain", mail.charset)
        sender = formataddr((str(Header(mail.name, mail.charset)), mail.sender))
        _headers(message, mail.sender, sender, Header(mail.subject, mail.charset), sent_at, mail.key)
        return message.as_bytes()
    message = EmailMessage()
    _headers(message, mail.sender, formataddr((mail.name, mail.sender)), mail.subject, sent_at,
             mail.key)
    message.set_content(mail.body, subtype="html" if mail.html else "plain", charset="utf-8")
    return bytes(message)


def _gbk_word(text: str) -> str:
    """An encoded word labelled gb2312 holding GBK bytes, as old Chinese mail clients write."""
    return f"=?gb2312?B?{base64.b64encode(text.encode('gbk')).decode()}?="


def _gbk_labelled_gb2312(mail: DemoMail, sent_at: datetime) -> bytes:
    message = MIMENonMultipart("text", "plain", charset="gb2312")
    message.set_payload(base64.encodebytes(mail.body.encode("gbk")).decode())
    message["Content-Transfer-Encoding"] = "base64"
    _headers(message, mail.sender, f"{_gbk_word(mail.name)} <{mail.sender}>", _gbk_word(mail.subject),
             sent_at, mail.key)
    message["X-Mailer"] = "Foxmail 7.2.25.228[cn]"
    return message.as_bytes()


def out_of_office(sent_at: datetime) -> bytes:
    """An employee's out-of-office answer to a mail the complaint address was copied on."""
    message = EmailMessage()
    address = "zheng.wei@partner-logistics.example.cn"
    _headers(message, address, formataddr(("郑伟", address)), "自动回复：关于下周回收车辆调度安排",
             sent_at, "out-of-office")
    message["Auto-Submitted"] = "auto-replied"
    message["X-Autoreply"] = "yes"
    message.set_content("您好，我本周休假，期间不能及时回复邮件。"
                        "紧急事务请联系调度中心 010-85550000。谢谢！\n\n郑伟")
    return bytes(message)


def bounce(sent_at: datetime) -> bytes:
    """A delivery status notification (RFC 3464) for a mail the company sent to a dead address."""
    lost = "fang.li@old-domain.example.net"
    report = MIMEMultipart("report")
    report.set_param("report-type", "delivery-status")
    _headers(report, f"MAILER-DAEMON@{OUR_MTA}", f"MAILER-DAEMON@{OUR_MTA} (Mail Delivery System)",
             "Undelivered Mail Returned to Sender", sent_at, "bounce")
    report.attach(MIMEText(
        f"This is the mail system at host {OUR_MTA}.\n\n"
        "I'm sorry to have to inform you that your message could not be delivered to one or more\n"
        "recipients.\n\n"
        f"<{lost}>: host mx.old-domain.example.net said: 550 5.1.1 User unknown\n", "plain", "us-ascii"))
    status = MIMEBase("message", "delivery-status")
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = f"dns; {OUR_MTA}"
    per_message["Arrival-Date"] = format_datetime(sent_at - timedelta(minutes=1))
    per_recipient["Final-Recipient"] = f"rfc822; {lost}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    per_recipient["Diagnostic-Code"] = "smtp; 550 5.1.1 User unknown"
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    original = MIMENonMultipart("text", "rfc822-headers")
    original.set_payload(f"From: {COMPLAINTS_ADDRESS}\nTo: {lost}\n"
                         "Subject: =?utf-8?b?5oqV6K+J5aSE55CG57uT5p6c?=\n")
    report.attach(original)
    return report.as_bytes()


def first_batch(mails: list[DemoMail], now: datetime) -> list[bytes]:
    """The mailbox as the morning found it: customer mail, an auto-reply and a bounce among it."""
    count = len(mails) + 2
    moments = [now - timedelta(minutes=11 * (count - i)) for i in range(count)]
    raws = [customer_mail(mail, moment) for mail, moment in zip(mails, moments, strict=False)]
    raws.insert(9, out_of_office(moments[-2]))
    raws.insert(20, bounce(moments[-1]))
    return raws


def department_answer(forward: Message, answer: str, sent_at: datetime) -> bytes:
    """The department replies to the forward it received, from the address it was sent to."""
    department = str(forward["To"])
    message = EmailMessage()
    message["From"] = department
    message["To"] = str(forward["Reply-To"] or forward["From"])
    message["Subject"] = f"回复：{forward['Subject']}"
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id(f"answer:{forward['Message-ID']}", _domain(department))
    message["In-Reply-To"] = forward["Message-ID"]
    message["References"] = forward["Message-ID"]
    message.set_content(answer)
    return bytes(message)


def customer_addition(mail: DemoMail, case_number: str, sent_at: datetime) -> bytes:
    """The customer writes again, a new mail with the case number in its subject."""
    message = EmailMessage()
    _headers(message, mail.sender, formataddr((mail.name, mail.sender)),
             mail.addition["subject"].format(number=case_number), sent_at, f"addition:{mail.key}")
    message.set_content(mail.addition["body"])
    return bytes(message)
