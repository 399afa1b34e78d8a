"""The only place that speaks SMTP: turns an outbox row into a MIME message and delivers it.

Addresses are checked strictly and every header value for line breaks, so a customer's name
or subject can never inject a header.
"""

from __future__ import annotations

import functools
import hashlib
import smtplib
import ssl
from email.header import Header
from email.headerregistry import Address
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr

from sqlalchemy import Row

from models.base import utcnow
from models.mail import OutgoingMail
from worker.config import SmtpConfig
from worker.intake.machine_mail import LOOP_HEADER


class TemporaryFailure(Exception):
    """Worth retrying later: connection trouble or a 4xx answer."""


class PermanentFailure(Exception):
    """Will never work as it is: a 5xx answer or an invalid address. Not retried."""


@functools.lru_cache(maxsize=4096)  # our own and the departments' addresses, in every mail
def strict_address(text: str) -> str:
    """One plain ASCII addr-spec, or PermanentFailure: no display names, no line breaks, no
    lists (and no SMTPUTF8, which we do not speak)."""
    if any(char in text for char in "\r\n,;<>\"") or text != text.strip() or not text.isascii():
        raise PermanentFailure(f"invalid address {text!r}")
    name, addr_spec = parseaddr(text)
    local, _, domain = addr_spec.rpartition("@")
    if name or addr_spec != text or not local or "." not in domain:
        raise PermanentFailure(f"invalid address {text!r}")
    try:
        return Address(addr_spec=addr_spec).addr_spec
    except (ValueError, IndexError) as error:
        raise PermanentFailure(f"invalid address {text!r}: {error}") from None


class _Wire(Compat32):
    """compat32 with CRLF line ends, as the bytes go on the wire (smtplib does not add them
    to bytes). compat32 builds a `Header` for every header it writes, most of the time of
    writing a message; a short ASCII value, which `Header` would write unchanged, is written
    as it is."""

    def _fold(self, name, value, sanitize):
        if (isinstance(value, str) and value.isascii() and value.isprintable()
                and len(name) + len(value) + 2 <= 78):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


WIRE = _Wire(linesep="\r\n")


def build_message(mail: OutgoingMail | Row, smtp: SmtpConfig) -> bytes:
    """The mail as it goes on the wire.

    Built with the compat32 MIME classes, four times cheaper than `EmailMessage`, whose
    default policy parses every header back into objects. So every value is checked here
    for line breaks (a customer's subject must never inject a header), and non-ASCII text
    is RFC 2047-encoded.
    """
    headers = [
        ("From", formataddr((_safe(smtp.from_name), strict_address(smtp.from_address)), charset="utf-8")),
        ("To", ", ".join(strict_address(a) for a in mail.to_addresses)),
    ]
    if mail.cc_addresses:
        headers.append(("Cc", ", ".join(strict_address(a) for a in mail.cc_addresses)))
    headers.append(("Subject", _encoded(mail.subject)))
    for name, value in (mail.headers or {}).items():
        headers.append((_safe(name), strict_address(value) if name == "Reply-To" else _encoded(value)))
    headers += [
        ("Message-ID", _safe(mail.message_id)),
        ("Date", format_datetime(utcnow())),
        # Every automatic mail says so, and names us, so no auto-responder answers it back.
        ("Auto-Submitted", "auto-replied"),
        ("X-Auto-Response-Suppress", "All"),
        (LOOP_HEADER, smtp.from_address),
    ]
    text = MIMEText(mail.body_text, "plain", "utf-8")
    if mail.body_html:
        message = MIMEMultipart("alternative", boundary=_boundary(mail.message_id))
        message.attach(text)
        message.attach(MIMEText(mail.body_html, "html", "utf-8"))
    else:
        message = text
    for name, value in headers:
        message[name] = value
    return message.as_bytes(policy=WIRE)


def _boundary(message_id: str) -> str:
    """Fixed per mail, instead of a random one the generator must search both parts for: the
    parts are base64 (utf-8 `MIMEText`), and no base64 line holds a '_'."""
    return "=_" + hashlib.sha256(message_id.encode()).hexdigest()[:32]


def _safe(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise PermanentFailure(f"unsafe header: line break in {value[:80]!r}")
    return value


def _encoded(value: str) -> str | Header:
    value = _safe(value)
    return value if value.isascii() else Header(value, "utf-8")


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


class SmtpConnection:
    """One SMTP session for many mails: connected on the first mail, connected again after it
    was lost. A server that could not be reached is not tried again for the rest of the batch
    (each try may wait out the timeout): those mails are deferred at once. Use as a context
    manager; it says QUIT at the end."""

    def __init__(self, smtp: SmtpConfig):
        self.smtp = smtp
        self.client: smtplib.SMTP | None = None
        self.unreachable: str | None = None

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                self.client.close()
            self.client = None

    def deliver(self, mail: OutgoingMail | Row) -> str | None:
        """Sends one mail; returns a note on recipients refused while others got it."""
        message = build_message(mail, self.smtp)
        recipients = [*mail.to_addresses, *mail.cc_addresses]
        try:
            refused = self._connected().sendmail(self.smtp.from_address, recipients, message)
        except smtplib.SMTPRecipientsRefused as error:
            code, detail = next(iter(error.recipients.values()))
            raise _classify(code, detail.decode(errors="replace")) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            # smtplib has reset the session: the connection serves the next mail.
            raise _classify(error.smtp_code, error.smtp_error.decode(errors="replace")) from None
        except smtplib.SMTPResponseException as error:
            self._drop()
            raise _classify(error.smtp_code, error.smtp_error.decode(errors="replace")) from None
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from None
        if refused:
            return "refused: " + ", ".join(f"{a} {c}" for a, (c, _) in refused.items())
        return None

    def _connected(self) -> smtplib.SMTP:
        if self.client is None:
            if self.unreachable is not None:
                raise TemporaryFailure(f"not tried: the server was unreachable ({self.unreachable})")
            try:
                self.client = _connect(self.smtp)
            except (smtplib.SMTPException, OSError) as error:
                self.unreachable = f"{type(error).__name__}: {error}"
                raise
        return self.client

    def _drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
