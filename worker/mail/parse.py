"""A raw mail's bytes read into the fields intake needs.

mail-parser reads the MIME tree (it guards against hostile nesting); when it
raises, the standard library's parser with `email.policy.default` does. Text
is never taken from either parser's own decoding: mail-parser falls back to
UTF-8 with dropped or replaced bytes when a Chinese label is wrong (a gb2312
subject holding 镕 came out as 'FվͶ'), so every header and part is decoded
from its bytes by `charset`, which checks what it produces.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import mimetypes
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message

import mailparser

from worker.mail.attachments import safe_filename, unique_names
from worker.mail.charset import (
    decode_bytes,
    decode_header_value,
    header_param,
    raw_bytes,
    split_header_params,
    unfold,
)
from worker.mail.html import html_to_text
from worker.mail.quotes import strip_quoted

_REPORT_TYPES = frozenset({"multipart/report", "message/delivery-status"})
# Deeper nesting than this is not a complaint mail; the rest is ignored.
_MAX_DEPTH = 30
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_HEADER_SPACES = re.compile(r"[ \t\r\n]+")


class UnparseableMail(Exception):
    """Nothing usable (no header block, or no sender, subject, text or attachment)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class HeaderView(Mapping[str, tuple[str, ...]]):
    """Top-level header values by case-insensitive name.

    Values are unfolded, with encoded words left as sent and stray 8-bit bytes decoded.
    """

    def __init__(self, items: Iterable[tuple[str, str]]):
        values: dict[str, list[str]] = {}
        for name, value in items:
            values.setdefault(name.strip().lower(), []).append(value)
        self._values = {name: tuple(found) for name, found in values.items()}

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def first(self, name: str, default: str = "") -> str:
        """The first value of header `name`, or `default` when it is absent."""
        found = self._values.get(name.lower())
        return found[0] if found else default

    def __repr__(self) -> str:
        return f"HeaderView({self._values!r})"


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str       # as the sender named it, decoded; "" when it had no name
    safe_name: str      # usable as a file name, unique within the mail
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    subject: str
    from_name: str
    from_address: str                  # lower-cased
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    message_id: str                    # "<…>" as sent
    in_reply_to: str
    references: tuple[str, ...]
    date: datetime | None              # aware; UTC when the mail said -0000
    headers: HeaderView
    content_type: str                  # of the whole mail, e.g. "multipart/mixed"
    body_text: str                     # the sender's own words: no history, no signature
    full_text: str                     # all readable text, history included
    html_only: bool                    # text came from HTML: no usable text/plain part
    attachments: tuple[ParsedAttachment, ...]
    charset_notes: tuple[str, ...]     # what was detected or repaired while decoding
    is_report: bool                    # a delivery report (bounce) or other multipart/report

    @property
    def text(self) -> str:
        """What intake reads and classifies: the sender's own words, else (a reply with
        nothing above the quote) all readable text."""
        return self.body_text.strip() or self.full_text.strip()


@dataclass
class _Parts:
    """What a walk over the MIME tree collects."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    is_report: bool = False


def parse_message(raw: bytes) -> ParsedMail:
    """Read a mail; raises UnparseableMail only when nothing usable is in it."""
    message, notes = _read_tree(bytes(raw))
    headers = HeaderView(_header_items(message, notes))
    if not headers:
        raise UnparseableMail("no header block")
    parts = _Parts(notes=notes)
    try:
        _walk(message, parts, depth=0)
    except RecursionError as error:
        raise UnparseableMail("MIME structure nested too deeply") from error
    subject = _decoded_header(headers.first("subject"), "subject", parts.notes)
    senders = _addresses(headers.get("from") or headers.get("sender") or (), parts.notes)
    from_name, from_address = senders[0] if senders else ("", "")
    full_text, body_text, html_only = _texts(parts)
    attachments = _attachments(parts.attachments)
    if not (subject or from_address or full_text or attachments):
        raise UnparseableMail("no sender, subject, text or attachment")
    return ParsedMail(
        subject=subject,
        from_name=from_name,
        from_address=from_address,
        to=_address_list(headers.get("to", ()), parts.notes),
        cc=_address_list(headers.get("cc", ()), parts.notes),
        reply_to=_address_list(headers.get("reply-to", ()), parts.notes),
        message_id=_message_id(headers.first("message-id")),
        in_reply_to=_message_id(headers.first("in-reply-to")),
        references=tuple(_message_ids(" ".join(headers.get("references", ())))),
        date=_date(headers.first("date")),
        headers=headers,
        content_type=_content_type(message),
        body_text=body_text,
        full_text=full_text,
        html_only=html_only,
        attachments=attachments,
        charset_notes=tuple(dict.fromkeys(parts.notes)),
        is_report=parts.is_report,
    )


def _read_tree(raw: bytes) -> tuple[Message, list[str]]:
    """The MIME tree, from mail-parser or, when it fails, the standard library."""
    try:
        return mailparser.parse_from_bytes(raw).message, []
    # mail-parser is third-party code on hostile input: any failure sends us to the fallback.
    except Exception as error:
        note = f"mail-parser failed ({type(error).__name__}); read with the email package"
    try:
        return email.message_from_bytes(raw, policy=email.policy.default), [note]
    except (RecursionError, ValueError, TypeError, IndexError) as error:
        raise UnparseableMail(f"MIME structure unreadable ({type(error).__name__})") from error


def _header_items(part: Message, notes: list[str]) -> list[tuple[str, str]]:
    """(name, value) pairs unfolded; raw 8-bit bytes decoded so values are clean text."""
    items = []
    for name, value in part.raw_items():
        text = unfold(str(value))
        if not text.isascii():
            decoded = decode_bytes(raw_bytes(text), None)
            text = decoded.text
            notes.extend(f"{name} header: raw 8-bit, {note}" for note in decoded.notes)
        items.append((str(name), text))
    return items


def _raw_header(part: Message, name: str) -> str:
    """The first raw value of `name` in one part, as sent (8-bit bytes surrogate-escaped)."""
    for key, value in part.raw_items():
        if str(key).lower() == name:
            return str(value)
    return ""


def _content_type(part: Message) -> str:
    """Read from the raw header, as mail clients mean it: invalid types are text/plain."""
    raw = _raw_header(part, "content-type")
    content_type = split_header_params(raw)[0] if raw else part.get_default_type()
    return content_type if re.fullmatch(r"[\w.+-]+/[\w.+-]+", content_type) else "text/plain"


def _walk(part: Message, parts: _Parts, depth: int) -> None:
    content_type = _content_type(part)
    parts.is_report |= content_type in _REPORT_TYPES
    if depth > _MAX_DEPTH:
        parts.notes.append("MIME parts nested too deeply were ignored")
        return
    if content_type.startswith("message/"):
        _keep_attachment(part, content_type, parts)
        return
    if part.is_multipart():
        for child in part.get_payload():
            _walk(child, parts, depth + 1)
        return
    if content_type.startswith("multipart/"):
        salvaged = _salvage_multipart(content_type, _payload_bytes(part))
        if salvaged is not None:
            parts.notes.append("multipart boundary missing or wrong; parts found by their own")
            _walk(salvaged, parts, depth + 1)
            return
        parts.notes.append("multipart without parts; its body read as plain text")
        content_type = "text/plain"
    _read_leaf(part, content_type, parts)


def _salvage_multipart(content_type: str, body: bytes) -> Message | None:
    """Re-read a multipart whose boundary is missing or wrong, using the one its body uses."""
    found = re.search(rb"^--([\w'()+,./:=?-]{1,70})[ \t]*\r?$", body, re.MULTILINE)
    if found is None:
        return None
    boundary = found.group(1).decode("ascii")
    rebuilt = f'Content-Type: {content_type}; boundary="{boundary}"\n\n'.encode() + body
    message = email.message_from_bytes(rebuilt)
    return message if message.is_multipart() else None


def _read_leaf(part: Message, content_type: str, parts: _Parts) -> None:
    disposition_raw = _raw_header(part, "content-disposition")
    disposition = split_header_params(disposition_raw)[0] if disposition_raw else ""
    filename = _filename(part, disposition_raw, parts.notes)
    is_body_text = content_type in ("text/plain", "text/html")
    if is_body_text and disposition != "attachment" and not filename:
        text = _leaf_text(part, content_type, parts.notes)
        (parts.plain if content_type == "text/plain" else parts.html).append(text)
        return
    data = _payload_bytes(part)
    parts.attachments.append((filename, content_type, data))


def _filename(part: Message, disposition_raw: str, notes: list[str]) -> str:
    content_type_raw = _raw_header(part, "content-type")
    found = (header_param(disposition_raw, "filename") if disposition_raw else None) or (
        header_param(content_type_raw, "name") if content_type_raw else None)
    if found is None:
        return ""
    notes.extend(f"attachment name: {note}" for note in found.notes)
    return found.text.strip()


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _leaf_text(part: Message, content_type: str, notes: list[str]) -> str:
    content_type_raw = _raw_header(part, "content-type")
    _, params = split_header_params(content_type_raw)
    declared = next((value for name, value in params if name == "charset"), None)
    decoded = decode_bytes(_payload_bytes(part), declared)
    notes.extend(f"{content_type} body: {note}" for note in decoded.notes)
    # iPhone Mail leaves byte-order marks inside quoted text; they are invisible anyway.
    return decoded.text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")


def _keep_attachment(part: Message, content_type: str, parts: _Parts) -> None:
    """A message/* part (forwarded mail, bounce status) kept whole as an attachment."""
    blocks = part.get_payload() if part.is_multipart() else []
    try:
        data = b"\n".join(block.as_bytes() for block in blocks) or _payload_bytes(part)
    # The generator re-serialises hostile structures; an unwritable one is kept empty.
    except Exception:
        data = b""
        parts.notes.append(f"{content_type} part could not be re-serialised")
    filename = _filename(part, _raw_header(part, "content-disposition"), parts.notes)
    if not filename and content_type == "message/rfc822" and blocks:
        subject = decode_header_value(_raw_header(blocks[0], "subject")).text.strip()
        filename = f"{subject}.eml" if subject else ""
    parts.attachments.append((filename, content_type, data))


def _texts(parts: _Parts) -> tuple[str, str, bool]:
    """(full text, the sender's own text, html_only) from the body parts found."""
    plain = "\n\n".join(text.strip() for text in parts.plain if text.strip())
    if plain:
        return plain, strip_quoted(plain), False
    if not parts.html:
        return "", "", False
    full = "\n\n".join(html_to_text(html) for html in parts.html).strip()
    without_history = "\n\n".join(html_to_text(html, drop_quoted=True) for html in parts.html)
    own = strip_quoted(without_history.strip() or full)
    return full, own, True


def _attachments(found: list[tuple[str, str, bytes]]) -> tuple[ParsedAttachment, ...]:
    names = [filename or _unnamed(content_type)
             for filename, content_type, _ in found]
    safe_names = unique_names([safe_filename(name) for name in names])
    return tuple(
        ParsedAttachment(filename, safe_name, content_type, data)
        for (filename, content_type, data), safe_name in zip(found, safe_names, strict=True)
    )


def _unnamed(content_type: str) -> str:
    """A name for a part sent without one: delivery-status.txt, attachment.jpg."""
    if content_type == "message/rfc822":
        return "message.eml"
    if content_type.startswith("message/") or content_type == "text/rfc822-headers":
        return content_type.split("/")[1] + ".txt"
    if content_type.startswith("text/"):
        return "attachment.txt"
    return "attachment" + (mimetypes.guess_extension(content_type) or ".bin")


def _decoded_header(raw: str, label: str, notes: list[str]) -> str:
    decoded = decode_header_value(raw)
    notes.extend(f"{label}: {note}" for note in decoded.notes)
    return _HEADER_SPACES.sub(" ", decoded.text).strip()


def _addresses(values: Iterable[str], notes: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; entries without an address dropped."""
    pairs = []
    for name, address in email.utils.getaddresses([unfold(value) for value in values]):
        address = address.strip().lower()
        if address:
            pairs.append((_decoded_header(name, "address name", notes).strip('"'), address))
    return pairs


def _address_list(values: Iterable[str], notes: list[str]) -> tuple[str, ...]:
    return tuple(address for _, address in _addresses(values, notes))


def _message_ids(value: str) -> list[str]:
    return _MESSAGE_ID.findall(value) or value.split()


def _message_id(value: str) -> str:
    found = _message_ids(value)
    return found[0] if found else ""


def _date(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # RFC 5322: -0000 means the zone is unknown; UTC is the honest reading.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
