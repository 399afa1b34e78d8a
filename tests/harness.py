"""Building blocks for end-to-end tests: an App wired to the loopback servers, and test mail."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from models.base import utcnow
from worker.app import App
from worker.config import load_config

COMPLAINTS = "complaints@example.com"


def write_config(tmp_path: Path, imap, smtp, database_url: str | None = None,
                 broker_url: str = "stub://", preset: str = "recycling", extra: str = "",
                 threads: int = 2, idle: bool = False) -> Path:
    """A TOML configuration on the given servers; temporary failures retried after 0.1 s."""
    database_url = database_url or f"sqlite:///{tmp_path / 'triage.db'}"
    text = f"""
[database]
url = "{database_url}"

[broker]
url = "{broker_url}"
threads = {threads}
min_backoff = 0.1
max_backoff = 0.5
max_retries = 3

[storage]
dir = "{tmp_path / 'storage'}"

[smtp]
host = "{smtp.host if smtp else '127.0.0.1'}"
port = {smtp.port if smtp else 25}
tls = "none"
from_address = "{COMPLAINTS}"

[policy]
preset = "{preset}"
"""
    if imap:
        text += f"""
[[mailboxes]]
name = "complaints"
host = "{imap.host}"
port = {imap.port}
tls = "none"
username = "{imap.user}"
password_env = "TEST_IMAP_PASSWORD"
folder = "{imap.folder}"
idle = {"true" if idle else "false"}
"""
    path = tmp_path / "triage.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def make_app(tmp_path: Path, imap, smtp, **options) -> App:
    return App(load_config(write_config(tmp_path, imap, smtp, **options)))


def mail(sender: str, subject: str, body: str, *, to: str = COMPLAINTS, in_reply_to: str | None = None,
         name: str = "", charset: str = "utf-8", headers: dict | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>" if name else sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(body, charset=charset)
    return bytes(message)
