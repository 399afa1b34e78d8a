"""Rules that recognise mail written by machines: it never opens a case or gets an answer.

Each rule is a tiny class with a `name` and `matches(mail, own_addresses) -> bool`, in the
order they are tried; the first that matches names the reason the message is ignored.
"""

from __future__ import annotations

from worker.mail.parse import ParsedMail

# The loop-protection header every automatic mail of ours carries (see worker/notices.py).
LOOP_HEADER = "X-Loop"


def _header(mail: ParsedMail, name: str) -> str:
    return " ".join(mail.headers.get(name, ())).strip()


class AutoSubmitted:
    name = "auto-submitted"

    def matches(self, mail: ParsedMail, own_addresses: frozenset[str]) -> bool:
        value = _header(mail, "Auto-Submitted").lower()
        return bool(value) and value != "no"


class AutoResponseSuppress:
    name = "x-auto-response-suppress"

    def matches(self, mail: ParsedMail, own_addresses: frozenset[str]) -> bool:
        return bool(_header(mail, "X-Auto-Response-Suppress"))


class BulkPrecedence:
    name = "precedence-bulk"

    def matches(self, mail: ParsedMail, own_addresses: frozenset[str]) -> bool:
        return _header(mail, "Precedence").lower() in {"bulk", "list", "junk"}


class MailingList:
    name = "mailing-list"

    def matches(self, mail: ParsedMail, own_addresses: frozenset[str]) -> bool:
        return bool(_header(mail, "List-Id") or _header(mail, "List-Unsubscribe"))


class OurLoop:
    name = "our-x-loop"

    def matches(self, mail: ParsedMail, own_addresses: frozenset[str]) -> bool:
        loop = _header(mail, LOOP_HEADER).lower()
        return any(address in loop for address in own_addresses)


class Bounce:
    name = "bounce"

    def matches(self, mail: ParsedMail, own_addresses: frozenset[str]) -> bool:
        sender = mail.from_address.split("@")[0].lower()
        return (
            mail.is_report
            or sender in {"mailer-daemon", "postmaster"}
            or _header(mail, "Return-Path") == "<>"
        )


class FromOurselves:
    name = "from-our-own-address"

    def matches(self, mail: ParsedMail, own_addresses: frozenset[str]) -> bool:
        return mail.from_address in own_addresses


RULES = (AutoSubmitted(), AutoResponseSuppress(), BulkPrecedence(), MailingList(), OurLoop(),
         Bounce(), FromOurselves())


def machine_mail_reason(mail: ParsedMail, own_addresses: frozenset[str]) -> str | None:
    """The name of the first rule that says a machine wrote this, or None for a person."""
    for rule in RULES:
        if rule.matches(mail, own_addresses):
            return rule.name
    return None
