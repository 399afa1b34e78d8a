"""`triage run` with no configuration: the worker on the embedded demo stack until Ctrl-C.

The database and sent mail stay under ./var/ between runs. The demo mailbox is filled once,
on the first run against a database; pymap forgets its mail when it stops, and the mail
already stored is not fetched twice. Mail sent to the complaint address over the demo SMTP
server is delivered into the mailbox, so a person can write in (as a customer, or as a
department replying to a forward) with any mail client or `swaks`.
"""

from __future__ import annotations

import json
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from sqlalchemy import select

from models.base import utcnow
from models.mail import RawMessage
from worker.app import App
from worker.config import Config
from worker.demo.mails import COMPLAINTS_ADDRESS, first_batch, load_mailbox
from worker.demo.stack import MAILBOX_NAME, label_by_outbox, start_servers, trial_config
from worker.runner import Runner

# Fixed ports where free, so a mail client set up once keeps working.
TRIAL_IMAP_PORT = 1143
TRIAL_SMTP_PORT = 2525


@contextmanager
def terminate_gracefully():
    """SIGTERM is handled like Ctrl-C, so the demo servers are stopped either way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_trial(config: Config, roles: tuple[str, ...], once: bool = False) -> None:
    base = Path(config.storage.dir).parent
    sent_dir = base / "sent"
    with terminate_gracefully():
        servers = start_servers(base, sent_dir, TRIAL_IMAP_PORT, TRIAL_SMTP_PORT)
        try:
            app = App(trial_config(config, servers))
            handler = servers.smtp.handler
            handler.label = label_by_outbox(app.db)
            handler.local_delivery = (COMPLAINTS_ADDRESS, lambda data: servers.imap.deliver([data]))
            filled = _fill_once(app, servers)
            Console(stderr=True).print(_banner(app, servers, sent_dir, filled))
            runner = Runner(app, roles)
            if once:
                print(json.dumps(runner.run_once()))
            else:
                runner.run_forever()
        finally:
            servers.stop()


def _fill_once(app: App, servers) -> int:
    with app.db.sessions() as session:
        seen = session.scalar(select(RawMessage.id).where(RawMessage.mailbox == MAILBOX_NAME).limit(1))
    if seen is not None:
        return 0
    raws = first_batch(load_mailbox(), utcnow())
    servers.imap.deliver(raws)
    return len(raws)


def _banner(app: App, servers, sent_dir: Path, filled: int) -> Panel:
    imap, smtp = servers.imap, servers.smtp
    database = app.config.database.url.removeprefix("sqlite:///")
    lines = [
        "No configuration given: the worker runs on the embedded demo mailbox.",
        f"  IMAP      {imap.host}:{imap.port}  user {imap.user}  password {imap.password}",
        f"  SMTP      {smtp.host}:{smtp.port}  mail to {COMPLAINTS_ADDRESS} lands in the mailbox",
        f"  sent mail {sent_dir}/",
        f"  database  {database}   (`triage cases list` in another terminal)",
        f"  mailbox   {filled} demo mails delivered" if filled else
        "  mailbox   the demo mails were handled on an earlier run",
        "Ctrl-C stops. A real mailbox: triage --config triage.toml run (see triage.example.toml).",
    ]
    return Panel("\n".join(lines), title="triage run (demo)", title_align="left")
