"""The demo servers plus a configuration pointing at them: what `triage demo` and `triage run`
without a configuration share."""

from __future__ import annotations

import os
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from sqlalchemy import select

from models.mail import OutgoingMail
from worker.config import Config, MailboxConfig, SmtpConfig
from worker.demo.mails import COMPLAINTS_ADDRESS
from worker.demo.servers import DemoServers

# The demo IMAP password is made up at start and handed over in the environment, never written.
PASSWORD_ENV = "TRIAGE_DEMO_IMAP_PASSWORD"
MAILBOX_NAME = "complaints"
FROM_NAME = "客户投诉中心"


def start_servers(directory: Path, sent_dir: Path, imap_port: int | None = None,
                  smtp_port: int | None = None) -> DemoServers:
    servers = DemoServers(directory, sent_dir, imap_port, smtp_port)
    os.environ[PASSWORD_ENV] = servers.imap.password
    return servers


def demo_config_text(directory: Path, servers: DemoServers) -> str:
    """The TOML of `triage demo`: everything under `directory`, mail through the demo servers."""
    return f"""\
# Written by `triage demo` for this run; its servers are gone when the demo ends.
# Inspect with: triage --config {directory / 'triage.toml'} cases list

[database]
url = "sqlite:///{directory / 'triage.db'}"

[broker]
url = "stub://"
threads = 4
min_backoff = 0.2
max_backoff = 2.0
max_retries = 3

[storage]
dir = "{directory / 'storage'}"

[[mailboxes]]
name = "{MAILBOX_NAME}"
host = "{servers.imap.host}"
port = {servers.imap.port}
tls = "none"
username = "{servers.imap.user}"
password_env = "{PASSWORD_ENV}"
idle = false

[smtp]
host = "{servers.smtp.host}"
port = {servers.smtp.port}
tls = "none"
from_address = "{COMPLAINTS_ADDRESS}"
from_name = "{FROM_NAME}"

[policy]
preset = "recycling"
"""


def trial_config(config: Config, servers: DemoServers) -> Config:
    """The embedded default with the demo mailbox and SMTP server filled in."""
    mailbox = MailboxConfig(name=MAILBOX_NAME, host=servers.imap.host, port=servers.imap.port,
                            tls="none", username=servers.imap.user, password_env=PASSWORD_ENV,
                            poll_interval=5.0)
    smtp = SmtpConfig(host=servers.smtp.host, port=servers.smtp.port, tls="none",
                      from_address=COMPLAINTS_ADDRESS, from_name=FROM_NAME)
    return config.model_copy(update={"mailboxes": [mailbox], "smtp": smtp})


def label_by_outbox(db):
    """Names a sent mail by its outbox row's kind (acknowledgement, forward, reminder …)."""
    def label(data: bytes) -> str:
        message_id = BytesHeaderParser(policy=compat32).parsebytes(data).get("Message-ID", "")
        with db.sessions() as session:
            kind = session.scalar(select(OutgoingMail.kind).where(
                OutgoingMail.message_id == str(message_id).strip()))
        return kind or "mail"

    return label
