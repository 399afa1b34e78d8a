"""The only place that speaks SMTP: turns an outbox row into a MIME message and delivers it.

Headers are built with `email.message.EmailMessage` and addresses checked strictly, so a
customer's name or subject can never inject a header.
"""

from __future__ import annotations

import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from models.base import utcnow
from models.mail import OutgoingMail
from worker.config import SmtpConfig
from worker.intake.machine_mail import LOOP_HEADER


class TemporaryFailure(Exception):
    """Worth retrying later: connection trouble or a 4xx answer."""


class PermanentFailure(Exception):
    """Will never work as it is: a 5xx answer or an invalid address. Not retried."""


def strict_address(text: str) -> Address:
    """One plain addr-spec, or PermanentFailure: no display names, no line breaks, no lists."""
    if any(char in text for char in "\r\n,;<>\"") or text != text.strip():
        raise PermanentFailure(f"invalid address {text!r}")
    name, addr_spec = parseaddr(text)
    local, _, domain = addr_spec.rpartition("@")
    if name or addr_spec != text or not local or "." not in domain:
        raise PermanentFailure(f"invalid address {text!r}")
    try:
        return Address(addr_spec=addr_spec)
    except (ValueError, IndexError) as error:
        raise PermanentFailure(f"invalid address {text!r}: {error}") from None


def build_message(mail: OutgoingMail, smtp: SmtpConfig) -> EmailMessage:
    message = EmailMessage()
    try:
        message["From"] = Address(display_name=smtp.from_name, addr_spec=smtp.from_address)
        message["To"] = [strict_address(a) for a in mail.to_addresses]
        if mail.cc_addresses:
            message["Cc"] = [strict_address(a) for a in mail.cc_addresses]
        message["Subject"] = mail.subject
        for name, value in (mail.headers or {}).items():
            message[name] = strict_address(value) if name == "Reply-To" else value
    except ValueError as error:  # EmailMessage refuses CR/LF in header values
        raise PermanentFailure(f"unsafe header: {error}") from None
    message["Message-ID"] = mail.message_id
    message["Date"] = format_datetime(utcnow())
    # Every automatic mail says so, and names us, so no auto-responder answers it back.
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message[LOOP_HEADER] = smtp.from_address
    message.set_content(mail.body_text, charset="utf-8")
    if mail.body_html:
        message.add_alternative(mail.body_html, subtype="html", charset="utf-8")
    return message


def _connect(smtp: SmtpConfig) -> smtplib.SMTP:
    if smtp.tls == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        if smtp.tls == "starttls":
            client.starttls(context=ssl.create_default_context())
    if smtp.username:
        client.login(smtp.username, smtp.password())
    return client


def _classify(code: int, detail: str) -> Exception:
    reason = f"{code} {detail}"
    return PermanentFailure(reason) if 500 <= code < 600 else TemporaryFailure(reason)


def deliver(mail: OutgoingMail, smtp: SmtpConfig) -> str | None:
    """Sends one mail; returns a note on recipients refused while others got it."""
    message = build_message(mail, smtp)
    recipients = [*mail.to_addresses, *mail.cc_addresses]
    try:
        with _connect(smtp) as client:
            refused = client.send_message(message, from_addr=smtp.from_address, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as error:
        code, detail = next(iter(error.recipients.values()))
        raise _classify(code, detail.decode(errors="replace")) from None
    except smtplib.SMTPResponseException as error:
        raise _classify(error.smtp_code, error.smtp_error.decode(errors="replace")) from None
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(f"{type(error).__name__}: {error}") from None
    if refused:
        return "refused: " + ", ".join(f"{a} {c}" for a, (c, _) in refused.items())
    return None
