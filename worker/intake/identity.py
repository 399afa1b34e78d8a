"""What makes two deliveries the same mail, read from the headers alone (no full parse)."""

from __future__ import annotations

import hashlib
from email.parser import BytesHeaderParser
from email.policy import compat32


def message_id_of(raw: bytes) -> str | None:
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    value = headers.get("Message-ID")
    return str(value).strip() or None if value else None


def dedup_key(raw: bytes) -> str:
    """One key per mail however often it is delivered.

    With a Message-ID: that id with the sender and date, so the copy in a rebuilt mailbox or
    a second mailbox (other Received / Delivered-To lines) is the same mail, and a sloppy
    mailer reusing an id for another sender's mail is not. Without one: the bytes themselves.
    """
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    message_id = str(headers.get("Message-ID") or "").strip()
    if not message_id:
        return "sha256:" + hashlib.sha256(raw).hexdigest()[:57]
    identity = "\n".join([message_id, str(headers.get("From") or ""), str(headers.get("Date") or "")])
    return "mid:" + hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:60]
