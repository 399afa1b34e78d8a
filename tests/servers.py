"""Real servers on loopback for the integration tests.

Plain helpers, usable outside pytest: each ``start_*`` function starts one server
on a free 127.0.0.1 port in its own temporary directory and returns an object
whose ``stop()`` tears it down and removes the directory. A server whose binary
is not installed raises ``ServerMissing``; ``skip_or_fail`` turns that into a
skip on a laptop and a failure in CI. ``tests/conftest.py`` wraps them in fixtures.

Run as root, PostgreSQL runs as the ``postgres`` user (``nobody`` where that is
missing) because it refuses root; Dovecot's master runs as root and drops to
``dovecot``/``dovenull`` for its own processes and to ``nobody`` for the mailbox.
Redis, pymap and the SMTP server run as the current user.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, Protocol

import pytest

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
_SBIN_PATH = os.pathsep.join(["/usr/local/sbin", "/usr/sbin", "/sbin"])


class ServerMissing(RuntimeError):
    """The server's binary is not installed; the message says what to install."""


class ServerFailed(RuntimeError):
    """The server is installed but did not start; the message holds its log's tail."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip on a laptop, fail when ``CI=true`` (as dramatiq's own suite does)."""
    if in_ci():
        pytest.fail(f"{reason} (required because CI=true)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), _SBIN_PATH]))


def _running_as_root() -> bool:
    return os.geteuid() == 0


def unprivileged_user(*preferred: str) -> pwd.struct_passwd:
    """The user a server runs as: the current one, or as root the first that exists."""
    if not _running_as_root():
        return pwd.getpwuid(os.geteuid())
    for name in (*preferred, "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerMissing(f"no unprivileged user among {(*preferred, 'nobody')}: useradd one")


def _as_user(user: pwd.struct_passwd | None) -> dict:
    """subprocess keyword arguments that drop root to ``user`` (none otherwise)."""
    if user is None or not _running_as_root() or user.pw_uid == 0:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _make_directory(prefix: str, owner: pwd.struct_passwd | None = None) -> Path:
    # Short paths under /tmp: PostgreSQL's Unix socket path must stay under 107 bytes.
    path = Path(tempfile.mkdtemp(prefix=f"ct-{prefix}-"))
    path.chmod(0o755)  # let the servers' unprivileged processes walk through it
    if owner is not None and _running_as_root():
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ServerProcess:
    """One background server process with its log file in ``directory``."""

    def __init__(self, argv: list[str], directory: Path, *, name: str,
                 user: pwd.struct_passwd | None = None, stop_signal: int = signal.SIGTERM):
        self.name = name
        self.log_path = directory / f"{name}.log"
        self.stop_signal = stop_signal
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv, cwd=directory, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, **_as_user(user))

    def wait_until(self, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ServerFailed(f"{self.name} exited with {self.popen.returncode}:\n"
                                   f"{_tail(self.log_path)}")
            if ready():
                return
            time.sleep(0.02)
        self.stop()
        raise ServerFailed(f"{self.name} not ready after {timeout}s:\n{_tail(self.log_path)}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # The process group is ours (start_new_session): take any straggling children too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(5)


def _greets(port: int, greeting: bytes) -> bool:
    """True once a TCP server on ``port`` answers with a line starting ``greeting``."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            return sock.recv(256).startswith(greeting)
    except OSError:
        return False


# --------------------------------------------------------------------------- PostgreSQL


def find_postgres_bindir() -> Path:
    """Debian's newest /usr/lib/postgresql/N/bin, else the directory of ``initdb`` on PATH."""
    def version(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path))

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    on_path = _which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for bindir in map(Path, candidates):
        if (bindir / "initdb").exists() and (bindir / "postgres").exists():
            return bindir
    raise ServerMissing("PostgreSQL server binaries (initdb, postgres) not found: "
                        "install the Debian package postgresql")


@dataclass
class PostgresServer:
    host: str
    port: int
    directory: Path
    process: ServerProcess
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{name}"

    def execute(self, sql: str) -> None:
        """Run one statement in autocommit on the ``postgres`` database."""
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user="postgres",
                             dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """Create ``test_<n>`` and return its name."""
        name = f"test_{next(self._numbers)}"
        self.execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        # FORCE ends the sessions a test's connection pool left open.
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _accepts_connections(self) -> bool:
        try:
            self.execute("SELECT 1")
        except Exception:
            return False
        return True

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres() -> PostgresServer:
    bindir = find_postgres_bindir()
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ServerMissing("psycopg not installed: pip install 'psycopg[binary]'") from exc
    user = unprivileged_user("postgres")
    directory = _make_directory("pg", user)
    data = directory / "data"
    initdb = subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
         "--encoding=UTF8", "--locale=C", "--no-sync"],
        check=False, cwd=directory, capture_output=True, text=True, **_as_user(user))
    if initdb.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise ServerFailed(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
    port = free_port()
    argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory),
            "-c", "listen_addresses=" + HOST, "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
    process = ServerProcess(argv, directory, name="postgres", user=user,
                            stop_signal=signal.SIGINT)
    server = PostgresServer(HOST, port, directory, process)
    try:
        process.wait_until(server._accepts_connections)
    except ServerFailed:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return server


# --------------------------------------------------------------------------- Redis


def _redis_command(port: int, *words: str) -> bytes:
    with socket.create_connection((HOST, port), timeout=2) as sock:
        request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        sock.sendall(request.encode())
        return sock.recv(1024)


@dataclass
class RedisServer:
    host: str
    port: int
    directory: Path
    process: ServerProcess

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def flush(self) -> None:
        """Empty every database."""
        reply = _redis_command(self.port, "FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise ServerFailed(f"FLUSHALL answered {reply!r}")

    def _pongs(self) -> bool:
        try:
            return _redis_command(self.port, "PING").startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_redis() -> RedisServer:
    binary = _which("redis-server")
    if binary is None:
        raise ServerMissing("redis-server not found: install the Debian package redis-server")
    directory = _make_directory("redis")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", HOST, "--dir", str(directory),
            "--save", "", "--appendonly", "no", "--daemonize", "no"]
    process = ServerProcess(argv, directory, name="redis")
    server = RedisServer(HOST, port, directory, process)
    try:
        process.wait_until(server._pongs)
    except ServerFailed:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return server


# --------------------------------------------------------------------------- IMAP


class ImapServer(Protocol):
    """What both IMAP servers offer a test."""

    kind: str  # "dovecot" or "pymap"
    host: str
    port: int
    user: str
    password: str
    folder: str

    def deliver(self, raw: bytes) -> None: ...
    def reset_uidvalidity(self) -> None: ...
    def clear(self) -> None: ...
    def stop(self) -> None: ...


IMAP_USER = "complaints"
IMAP_PASSWORD = "secret"

_DOVECOT_CONF = """\
protocols = imap
listen = {host}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{dir}/Maildir
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{login_chroot}}}
{unprivileged_services}"""

# A non-root Dovecot cannot chroot its login and anvil processes.
_UNPRIVILEGED_SERVICES = """\
service anvil {
  chroot =
}
"""

_deliveries = itertools.count(1)


def _maildir_name() -> str:
    """A unique Maildir file name: time, microseconds, pid, counter, host."""
    now = time.time()
    return (f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_deliveries)}"
            f".{socket.gethostname().replace('/', '_').replace(':', '_')}")


@dataclass
class DovecotServer:
    host: str
    port: int
    directory: Path
    mail_owner: pwd.struct_passwd
    process: ServerProcess
    user: str = IMAP_USER
    password: str = IMAP_PASSWORD
    folder: str = "INBOX"
    kind: str = "dovecot"

    @property
    def maildir(self) -> Path:
        return self.directory / "Maildir"

    def deliver(self, raw: bytes) -> None:
        """Deliver like an MDA: write into Maildir/tmp, then rename into Maildir/new."""
        self._make_maildir()
        name = _maildir_name()
        staged = self.maildir / "tmp" / name
        staged.write_bytes(raw)
        self._own(staged)
        os.rename(staged, self.maildir / "new" / name)

    def reset_uidvalidity(self) -> None:
        """Forget UIDs: the next session sees a new UIDVALIDITY and renumbered mails.

        Call it with no session open. ``dovecot-uidvalidity*`` stays, so that the
        new value is guaranteed to differ from the old one.
        """
        for mailbox in [self.maildir, *self.maildir.glob(".?*")]:
            for pattern in ("dovecot-uidlist*", "dovecot.index*", "dovecot.list.index*"):
                for path in mailbox.glob(pattern):
                    path.unlink()

    def clear(self) -> None:
        """Remove every mail and folder (UIDVALIDITY still moves on). No session open."""
        if self.maildir.exists():
            for path in self.maildir.iterdir():
                if path.name.startswith("dovecot-uidvalidity"):
                    continue
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        self._make_maildir()

    def _make_maildir(self) -> None:
        for sub in ("", "cur", "new", "tmp"):
            path = self.maildir / sub
            if not path.exists():
                path.mkdir(mode=0o700)
                self._own(path)

    def _own(self, path: Path) -> None:
        if _running_as_root():
            os.chown(path, self.mail_owner.pw_uid, self.mail_owner.pw_gid)

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def find_dovecot() -> str:
    binary = _which("dovecot")
    if binary is None:
        raise ServerMissing("dovecot not found: install the Debian package dovecot-imapd")
    return binary


def start_dovecot() -> DovecotServer:
    binary = find_dovecot()
    directory = _make_directory("imap")
    if _running_as_root():
        internal = unprivileged_user("dovecot")
        login = unprivileged_user("dovenull")
        mail_owner = unprivileged_user()  # nobody: a uid apart from Dovecot's own
    else:
        internal = login = mail_owner = pwd.getpwuid(os.geteuid())
    port = free_port()
    home = directory / "home"
    home.mkdir()
    if _running_as_root():
        os.chown(home, mail_owner.pw_uid, mail_owner.pw_gid)
    (directory / "passwd").write_text(
        f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}:{mail_owner.pw_uid}:{mail_owner.pw_gid}"
        f"::{home}::\n")
    conf = directory / "dovecot.conf"
    conf.write_text(_DOVECOT_CONF.format(
        host=HOST, port=port, dir=directory,
        internal_user=internal.pw_name, internal_group=_group_name(internal.pw_gid),
        login_user=login.pw_name,
        login_chroot="" if _running_as_root() else "  chroot =\n",
        unprivileged_services="" if _running_as_root() else _UNPRIVILEGED_SERVICES))
    process = ServerProcess([binary, "-F", "-c", str(conf)], directory, name="dovecot-master")
    server = DovecotServer(HOST, port, directory, mail_owner, process)
    server._make_maildir()
    try:
        process.wait_until(lambda: _greets(port, b"* OK"))
    except ServerFailed as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise ServerFailed(f"{exc}\n{_tail(directory / 'dovecot.log')}") from None
    return server


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def find_pymap() -> str:
    beside_python = Path(sys.executable).parent / "pymap"
    if beside_python.exists():
        return str(beside_python)
    binary = shutil.which("pymap")
    if binary is None:
        raise ServerMissing("neither dovecot nor pymap found: install the Debian package "
                            "dovecot-imapd (or pip install pymap)")
    return binary


@dataclass
class PymapServer:
    """pymap's in-memory ``dict`` backend: the laptop fallback when Dovecot is missing.

    Mail arrives by IMAP APPEND; ``reset_uidvalidity`` restarts the process on the
    same port and appends the mails back, as Dovecot would renumber them.
    """

    host: str
    port: int
    directory: Path
    process: ServerProcess
    user: str = IMAP_USER
    password: str = IMAP_PASSWORD
    folder: str = "INBOX"
    kind: str = "pymap"

    def _client(self):
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def deliver(self, raw: bytes) -> None:
        client = self._client()
        try:
            client.append(self.folder, raw)
        finally:
            client.logout()

    def reset_uidvalidity(self) -> None:
        client = self._client()
        try:
            client.select_folder(self.folder, readonly=True)
            uids = client.search()
            kept = client.fetch(uids, ["FLAGS", "INTERNALDATE", "RFC822"]) if uids else {}
        finally:
            client.logout()
        self.process.stop()
        self.process = _run_pymap(self.directory, self.port)
        client = self._client()
        try:
            for uid in sorted(kept):
                item = kept[uid]
                flags = [f for f in item[b"FLAGS"] if f != b"\\Recent"]
                client.append(self.folder, item[b"RFC822"], flags, item[b"INTERNALDATE"])
        finally:
            client.logout()

    def clear(self) -> None:
        client = self._client()
        try:
            for name in (folder for _, _, folder in client.list_folders()):
                if name.upper() != "INBOX":
                    client.delete_folder(name)
            client.select_folder(self.folder)
            uids = client.search()
            if uids:
                client.delete_messages(uids)
                client.expunge()
        finally:
            client.logout()

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _run_pymap(directory: Path, port: int) -> ServerProcess:
    argv = [find_pymap(), "--host", HOST, "--port", str(port), "--no-tls",
            "dict", "--demo-user", IMAP_USER, "--demo-password", IMAP_PASSWORD]
    process = ServerProcess(argv, directory, name="pymap")
    process.wait_until(lambda: _greets(port, b"* OK"))
    return process


def start_pymap() -> PymapServer:
    try:
        import imapclient  # noqa: F401
    except ImportError as exc:
        raise ServerMissing("imapclient not installed: pip install imapclient") from exc
    directory = _make_directory("pymap")
    port = free_port()
    try:
        process = _run_pymap(directory, port)
    except ServerFailed:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return PymapServer(HOST, port, directory, process)


def start_imap() -> ImapServer:
    """Dovecot; where it is missing, pymap on a laptop (CI=true requires Dovecot)."""
    try:
        return start_dovecot()
    except ServerMissing:
        if in_ci():
            raise
    return start_pymap()


# --------------------------------------------------------------------------- RabbitMQ


@dataclass
class RabbitServer:
    host: str
    port: int
    epmd_port: int
    directory: Path
    process: ServerProcess

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/%2F"

    def stop(self) -> None:
        self.process.stop(timeout=20)
        # epmd daemonises out of the server's process group: end it by its own port.
        epmd = _which("epmd")
        if epmd:
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], capture_output=True,
                           timeout=10, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_rabbitmq() -> RabbitServer:
    """rabbitmq-server with its node, database and logs in a temporary directory."""
    binary = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    if not os.path.exists(binary):
        raise ServerMissing("rabbitmq-server not found: install the Debian package rabbitmq-server")
    user = unprivileged_user("rabbitmq")
    directory = _make_directory("rabbitmq", owner=user)
    port, dist_port, epmd_port = free_port(), free_port(), free_port()
    (directory / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {HOST}:{port}\nloopback_users = none\n")
    (directory / "enabled_plugins").write_text("[].\n")
    if _running_as_root():
        for path in directory.iterdir():
            os.chown(path, user.pw_uid, user.pw_gid)
    settings = {
        "HOME": directory, "RABBITMQ_MNESIA_BASE": directory / "mnesia",
        "RABBITMQ_LOG_BASE": directory / "log", "RABBITMQ_CONFIG_FILE": directory / "rabbitmq",
        "RABBITMQ_ENABLED_PLUGINS_FILE": directory / "enabled_plugins",
        "RABBITMQ_NODENAME": f"ct{port}@localhost", "RABBITMQ_DIST_PORT": dist_port,
        "ERL_EPMD_PORT": epmd_port, "RABBITMQ_PID_FILE": directory / "pid",
    }
    argv = ["env", *(f"{key}={value}" for key, value in settings.items()), binary]
    process = ServerProcess(argv, directory, name="rabbitmq", user=user)
    server = RabbitServer(HOST, port, epmd_port, directory, process)
    try:
        process.wait_until(lambda: _accepts(port), timeout=60)
    except ServerFailed:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return server


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    """aiosmtpd handler that records accepted mail and answers as a test scripts it.

    ``replies`` holds the answers to the next DATA commands, oldest first ("451 4.3.0
    try later", then "250 OK"); once empty every message gets "250 OK".
    ``recipient_replies`` maps a lower-cased address to its RCPT answer, for ever.
    """

    received: list[Received] = field(default_factory=list)
    refused: list[tuple[Received, str]] = field(default_factory=list)
    replies: deque[str] = field(default_factory=deque)
    recipient_replies: dict[str, str] = field(default_factory=dict)
    # Seconds each RCPT is held before its answer: a client killed meanwhile sent nothing.
    rcpt_delay: float = 0.0
    rcpt_seen: threading.Event = field(default_factory=threading.Event)
    # SMTP sessions opened (EHLO or HELO), and the DATA (counted from 1) at which the server
    # hangs up instead of answering; 0: never.
    connections: int = 0
    hang_up_at_data: int = 0
    data_count: int = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self.connections += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_seen.set()
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        reply = self.recipient_replies.get(address.lower())
        if reply is not None and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return reply or "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_count += 1
        if self.data_count == self.hang_up_at_data:
            server.transport.close()
            return "421 4.4.2 connection dropped"
        message = Received(envelope.mail_from, list(envelope.rcpt_tos),
                           envelope.original_content or envelope.content)
        try:
            reply = self.replies.popleft()
        except IndexError:
            reply = "250 OK"
        if reply.startswith("2"):
            self.received.append(message)
        else:
            self.refused.append((message, reply))
        return reply


class SmtpServer:
    """aiosmtpd's ``Controller`` in a thread, with a ``RecordingHandler``."""

    def __init__(self) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError as exc:
            raise ServerMissing("aiosmtpd not installed: pip install aiosmtpd") from exc
        self.handler = RecordingHandler()
        self.host = HOST
        self.port = free_port()
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)
        self.controller.start()

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def refused(self) -> list[tuple[Received, str]]:
        return self.handler.refused

    def reply(self, *replies: str) -> None:
        """Queue answers to the next DATA commands, e.g. ``reply("451 4.3.0 try later")``."""
        self.handler.replies.extend(replies)

    def reject_recipient(self, address: str, reply: str = "550 5.1.1 no such user") -> None:
        self.handler.recipient_replies[address.lower()] = reply

    def stop(self) -> None:
        self.controller.stop()


def start_smtp() -> SmtpServer:
    return SmtpServer()
