"""The demo's mail servers on loopback: pymap (IMAP, in-memory) and aiosmtpd (SMTP to a folder).

pymap runs as a subprocess with its `dict` backend and one user; mail reaches its INBOX by
IMAP APPEND, as a mail server's delivery would put it there. The SMTP server accepts every
mail and writes it into a folder as `NNNN-<kind>-<recipient>.eml`, where a person can open it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

log = logging.getLogger("triage.demo")

HOST = "127.0.0.1"
IMAP_USER = "complaints"
START_TIMEOUT = 30.0
# pymap's entry point, run by this interpreter: no need to find its script on PATH.
_PYMAP_MAIN = "import sys; from pymap.main import main; sys.exit(main())"


class DemoServerError(RuntimeError):
    """A demo server did not start; the message holds the tail of its log."""


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free on loopback, else any free port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            # As the servers bind: a port left in TIME_WAIT by an earlier run is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise DemoServerError("no free port on 127.0.0.1")


def _greets(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            return sock.recv(256).startswith(b"* OK")
    except OSError:
        return False


class ImapServer:
    """pymap with its in-memory backend, user `complaints` and a fresh random password."""

    def __init__(self, log_path: Path, port: int | None = None):
        self.host, self.user, self.folder = HOST, IMAP_USER, "INBOX"
        self.password = secrets.token_urlsafe(12)
        self.port = free_port(port)
        self.log_path = log_path
        argv = [sys.executable, "-c", _PYMAP_MAIN, "--host", HOST, "--port", str(self.port),
                "--no-tls", "dict", "--demo-user", self.user, "--demo-password", self.password]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log_file:
            # Its own session: a Ctrl-C reaches us, and we stop it in order.
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoServerError(f"pymap exited with {self.process.returncode}:\n{self._tail()}")
            if _greets(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise DemoServerError(f"pymap not ready after {START_TIMEOUT:.0f} s:\n{self._tail()}")

    def _tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def deliver(self, raws: list[bytes]) -> None:
        """APPEND each mail to the INBOX, in order, in one session."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            for raw in raws:
                client.append(self.folder, raw)
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass(frozen=True)
class SentMail:
    path: Path
    kind: str
    message_id: str
    mail_from: str
    recipients: tuple[str, ...]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "mail"


@dataclass
class SentMailFolder:
    """aiosmtpd handler: every mail sent through it becomes one `.eml` file, numbered in order.

    `label(data)` names the mail's kind in the file name (acknowledgement, forward …).
    `local_delivery` hands mail for one address (the complaint mailbox) to a callable, so
    mail written to it over this server reaches the IMAP mailbox like real mail would.
    """

    directory: Path
    label: Callable[[bytes], str] = lambda data: "mail"
    local_delivery: tuple[str, Callable[[bytes], None]] | None = None
    sent: list[SentMail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_number: int = 0

    def __post_init__(self) -> None:
        # A folder kept from an earlier run (`triage run`) goes on with the next number.
        numbers = [int(p.name[:4]) for p in self.directory.glob("[0-9][0-9][0-9][0-9]-*.eml")]
        self._last_number = max(numbers, default=0)

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        recipients = tuple(envelope.rcpt_tos)
        if self.local_delivery:
            address, deliver = self.local_delivery
            local = [r for r in recipients if r.lower() == address]
            if local and envelope.mail_from.lower() != address:
                deliver(data)  # mail written to the complaint mailbox, not mail we sent
                if len(local) == len(recipients):
                    return "250 OK"
        with self._lock:
            kind = _slug(self.label(data))
            self._last_number += 1
            name = f"{self._last_number:04d}-{kind}-{_slug(recipients[0] if recipients else '')}.eml"
            path = self.directory / name
            path.write_bytes(data)
            message_id = str(BytesHeaderParser(policy=compat32).parsebytes(data).get("Message-ID", ""))
            self.sent.append(SentMail(path, kind, message_id.strip(), envelope.mail_from, recipients))
        return "250 OK"


class SmtpServer:
    """aiosmtpd's Controller in a thread, writing what it receives into a folder."""

    def __init__(self, directory: Path, port: int | None = None):
        from aiosmtpd.controller import Controller

        directory.mkdir(parents=True, exist_ok=True)
        # aiosmtpd logs every SMTP command at INFO: the worker's own log says what was sent.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.host = HOST
        self.port = free_port(port)
        self.handler = SentMailFolder(directory)
        self.controller = Controller(self.handler, hostname=HOST, port=self.port)
        self.controller.start()

    @property
    def directory(self) -> Path:
        return self.handler.directory

    @property
    def sent(self) -> list[SentMail]:
        return self.handler.sent

    def stop(self) -> None:
        self.controller.stop()


class DemoServers:
    """Both servers, started together and stopped together (also when starting fails)."""

    def __init__(self, directory: Path, sent_dir: Path, imap_port: int | None = None,
                 smtp_port: int | None = None):
        self.smtp = SmtpServer(sent_dir, smtp_port)
        try:
            self.imap = ImapServer(directory / "pymap.log", imap_port)
        except BaseException:
            self.smtp.stop()
            raise

    def stop(self) -> None:
        try:
            self.imap.stop()
        finally:
            self.smtp.stop()

    def __enter__(self) -> DemoServers:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
