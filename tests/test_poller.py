"""The IMAP poller against a real Dovecot on loopback: exactly once, crashes, races, IDLE, failures."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from imapclient import IMAPClient
from sqlalchemy import func, select

from models.base import utcnow
from models.db import Database
from models.mail import MailboxState, RawMessage
from models.raw_messages import mailbox_state, record_poll_error, record_poll_success
from worker.app import App
from worker.batches import plan_batches
from worker.cli.mailboxes import group as mailboxes_command
from worker.config import Config, DatabaseConfig, MailboxConfig
from worker.intake.poller import (
    Backoff,
    MailboxPoller,
    TokenUnavailable,
    access_token,
)

from servers import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
PASSWORD_ENV = "TEST_POLLER_IMAP_PASSWORD"
NAME = "complaints"
FAST_BACKOFF = Backoff(first=0.05, longest=0.2)
SEEN = b"\\Seen"


# --------------------------------------------------------------------------- helpers


def complaint(number: int, body: str = "小区垃圾无人清运，已经三天了。") -> bytes:
    message = EmailMessage()
    message["From"] = f"citizen{number}@example.org"
    message["To"] = "complaints@example.gov"
    message["Subject"] = f"投诉 {number}"
    message["Date"] = "Mon, 23 Nov 2026 09:00:00 +0800"
    message["Message-ID"] = f"<complaint-{number}@example.org>"
    message.set_content(body)
    return message.as_bytes()


def deliver(imap, count: int, first: int = 1) -> None:
    for number in range(first, first + count):
        imap.deliver(complaint(number))


def mailbox_for(imap, **changes) -> MailboxConfig:
    return MailboxConfig(name=NAME, host=imap.host, port=imap.port, tls="none",
                         username=imap.user, password_env=PASSWORD_ENV, **changes)


def make_poller(mailbox: MailboxConfig, db: Database, calls: list[list[int]] | None = None,
                cls: type[MailboxPoller] = MailboxPoller, **options) -> MailboxPoller:
    on_stored = calls.append if calls is not None else (lambda ids: None)
    return cls(mailbox, db, on_stored, backoff=FAST_BACKOFF, **options)


def server_flags(imap, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
    """UID -> flags, read without changing anything."""
    client = IMAPClient(imap.host, imap.port, ssl=False, timeout=10)
    try:
        client.login(imap.user, imap.password)
        client.select_folder(folder, readonly=True)
        uids = client.search()
        return {uid: item[b"FLAGS"] for uid, item in client.fetch(uids, ["FLAGS"]).items()} if uids else {}
    finally:
        client.logout()


def raw_count(db: Database) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(RawMessage))


def raw_ids(db: Database) -> list[int]:
    with db.sessions() as session:
        return list(session.scalars(select(RawMessage.id).order_by(RawMessage.id)))


def state_of(db: Database, name: str = NAME) -> MailboxState | None:
    with db.sessions() as session:
        return session.get(MailboxState, name)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> float:
    """Seconds it took for `condition` to hold; fails the test after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - started


class RunningPoller:
    """`poller.run(stop)` in a thread, remembering anything that escaped it."""

    def __init__(self, poller: MailboxPoller):
        self.stop = threading.Event()
        self.escaped: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(poller,), daemon=True)
        self.thread.start()

    def _run(self, poller: MailboxPoller) -> None:
        try:
            poller.run(self.stop)
        except BaseException as error:
            self.escaped.append(error)

    def finish(self, timeout: float = 3.0) -> float:
        """Set stop and return how long the thread took to end."""
        started = time.monotonic()
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not end after stop"
        assert self.escaped == []
        return time.monotonic() - started


class TcpProxy:
    """A loopback port forwarding to the IMAP server that a test can close and cut.

    The fixtures offer no way to take the session-wide Dovecot away from one test, so the
    poller talks to this proxy instead: closed, its port refuses connections; `cut()`
    closes every live connection, as a server crash or a dropped network would.
    """

    def __init__(self, target_port: int):
        self.port = free_port()
        self.target_port = target_port
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self.cut()

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            client.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture(autouse=True)
def imap_password(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "secret")


@pytest.fixture
def db(tmp_path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/triage.db")
    database.upgrade()
    yield database
    database.engine.dispose()


@pytest.fixture
def poller_logs(caplog):
    caplog.set_level(logging.INFO, logger="triage.intake.poller")
    return caplog


# --------------------------------------------------------------------------- pure parts


def test_batches_respect_count_and_bytes():
    sizes = {5: 10, 1: 10, 2: 10, 3: 10, 4: 10}
    assert plan_batches(sizes, max_count=2, max_bytes=1000) == [[1, 2], [3, 4], [5]]
    assert plan_batches(sizes, max_count=50, max_bytes=25) == [[1, 2], [3, 4], [5]]
    # A mail bigger than the byte bound travels alone instead of never.
    assert plan_batches({1: 5, 2: 100, 3: 5}, max_count=50, max_bytes=20) == [[1], [2], [3]]
    assert plan_batches({}, max_count=5, max_bytes=5) == []


def test_backoff_doubles_to_its_ceiling_with_jitter():
    backoff = Backoff(first=1.0, longest=300.0)
    for failures, ceiling in [(0, 1), (1, 2), (3, 8), (8, 256), (9, 300), (50, 300)]:
        delays = {backoff.delay(failures) for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


def test_token_comes_from_env_before_command(monkeypatch):
    mailbox = MailboxConfig(name=NAME, host="h", auth="xoauth2", token_env="TEST_TOKEN",
                            token_command="echo from-command")
    monkeypatch.setenv("TEST_TOKEN", "from-env")
    assert access_token(mailbox, timeout=5) == "from-env"
    monkeypatch.setenv("TEST_TOKEN", "")
    assert access_token(mailbox, timeout=5) == "from-command"


@pytest.mark.parametrize(("command", "expected"), [
    ("false", "exited with status 1"),
    ("true", "printed no token"),
    ("sleep 5", "timed out"),
    ("/nonexistent/token-helper", "cannot run"),
])
def test_token_command_failures_are_token_unavailable(command, expected):
    mailbox = MailboxConfig(name=NAME, host="h", auth="xoauth2", token_command=command)
    with pytest.raises(TokenUnavailable, match=expected):
        access_token(mailbox, timeout=0.3)


# --------------------------------------------------------------------------- exactly once


def test_delivered_mail_is_stored_once_flagged_and_reported(imap, db, poller_logs):
    deliver(imap, 3)
    calls: list[list[int]] = []
    poller = make_poller(mailbox_for(imap), db, calls)
    try:
        first = poller.poll_once()
        second = poller.poll_once()
    finally:
        poller.close()

    assert (first.stored, first.duplicates, first.flagged, first.waiting) == (3, 0, 3, 0)
    assert (second.stored, second.duplicates, second.flagged) == (0, 0, 0)
    assert calls == [raw_ids(db)] and len(calls[0]) == 3
    assert all(SEEN in flags for flags in server_flags(imap).values())
    assert len(server_flags(imap)) == 3
    state = state_of(db)
    assert state.last_uid == 3 and state.waiting == 0 and state.last_success_at is not None
    poller_lines = [r.getMessage() for r in poller_logs.records if r.name == "triage.intake.poller"]
    assert any(NAME in line and "uid 1" in line for line in poller_lines)
    assert not any("@" in line or "投诉" in line for line in poller_lines)


def test_on_stored_is_called_once_per_batch_after_commit(imap, db):
    deliver(imap, 5)
    seen_committed: list[bool] = []
    calls: list[list[int]] = []

    def on_stored(ids: list[int]) -> None:
        # Another connection sees the rows: they were committed before the call.
        seen_committed.append(raw_count(Database(db.url)) >= max(ids))
        calls.append(ids)

    poller = MailboxPoller(mailbox_for(imap, batch_size=2), db, on_stored)
    try:
        poller.poll_once()
    finally:
        poller.close()
    assert [len(ids) for ids in calls] == [2, 2, 1]
    assert seen_committed == [True, True, True]


def test_processed_folder_receives_the_mail_and_inbox_empties(imap, db):
    deliver(imap, 2)
    poller = make_poller(mailbox_for(imap, processed_folder="Processed"), db)
    try:
        result = poller.poll_once()
    finally:
        poller.close()
    assert (result.stored, result.moved, result.flagged) == (2, 2, 0)
    assert server_flags(imap, "INBOX") == {}
    assert len(server_flags(imap, "Processed")) == 2
    assert raw_count(db) == 2


class CopyingPoller(MailboxPoller):
    """Behaves as against a server without MOVE."""

    def can_move(self, client) -> bool:
        return False


def test_without_move_the_poller_copies_deletes_and_expunges(imap, db):
    deliver(imap, 3)
    poller = make_poller(mailbox_for(imap, processed_folder="Processed"), db, cls=CopyingPoller)
    try:
        result = poller.poll_once()
    finally:
        poller.close()
    assert result.moved == 3
    assert server_flags(imap, "INBOX") == {}
    assert len(server_flags(imap, "Processed")) == 3


CRASHING_POLLER = r"""
import json, os, signal, sys
from models.db import Database
from worker.config import MailboxConfig
from worker.intake import poller as poller_module
from worker.intake.poller import MailboxPoller

args = json.loads(sys.argv[1])
stores = 0
store_in_transaction = poller_module.store_raw_message

def store_raw_message(*row):
    global stores
    raw_id = store_in_transaction(*row)  # inside the batch's transaction, not committed yet
    stores += 1
    if args["kill"] == "mid_batch" and stores == args["after_stores"]:
        os.kill(os.getpid(), signal.SIGKILL)
    return raw_id

poller_module.store_raw_message = store_raw_message

class CrashingPoller(MailboxPoller):
    def acknowledge(self, client, uids):
        if args["kill"] == "before_flag":
            os.kill(os.getpid(), signal.SIGKILL)
        super().acknowledge(client, uids)

poller = CrashingPoller(MailboxConfig(**args["mailbox"]), Database(args["db_url"]), print)
poller.poll_once()
"""


def acknowledged(imap, processed_folder: str) -> int:
    """How many of the delivered mails the server shows as taken."""
    if processed_folder:
        return len(server_flags(imap, processed_folder))
    # Fetching used BODY.PEEK[]: whatever was not flagged on purpose is still unseen.
    return sum(SEEN in flags for flags in server_flags(imap).values())


@pytest.mark.parametrize(("kill", "processed_folder", "stored_before_kill", "acknowledged_before_kill"), [
    ("before_flag", "", 4, 0),  # first batch committed, nothing flagged
    ("mid_batch", "", 4, 4),    # first batch done; the second killed after two of its inserts
    ("before_flag", "Processed", 4, 0),
    ("mid_batch", "Processed", 4, 4),
])
def test_sigkill_between_commit_and_acknowledgement_loses_and_doubles_nothing(
        imap, db, kill, processed_folder, stored_before_kill, acknowledged_before_kill):
    deliver(imap, 10)
    mailbox = mailbox_for(imap, batch_size=4, processed_folder=processed_folder)
    args = {"kill": kill, "after_stores": 6, "db_url": db.url, "mailbox": mailbox.model_dump()}
    crashed = subprocess.run([sys.executable, "-c", CRASHING_POLLER, json.dumps(args)],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                             env={**os.environ, PASSWORD_ENV: "secret"})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert raw_count(db) == stored_before_kill
    assert acknowledged(imap, processed_folder) == acknowledged_before_kill

    # No grace: this test has no second live poller whose moves it could double.
    poller = make_poller(mailbox, db, move_grace=0)
    try:
        result = poller.poll_once()
    finally:
        poller.close()
    assert raw_count(db) == 10
    assert result.stored == 10 - stored_before_kill
    assert acknowledged(imap, processed_folder) == 10
    if processed_folder:
        assert server_flags(imap, "INBOX") == {}


def test_unmoved_duplicate_is_moved_once_the_grace_has_passed(imap, db):
    imap.deliver(complaint(1))
    imap.deliver(complaint(1))  # the same mail twice: one row; the copy is not this poller's to move
    poller = make_poller(mailbox_for(imap, processed_folder="Processed"), db, move_grace=0.3)
    try:
        first = poller.poll_once()
        seen = poller.poll_once()  # the copy is noticed unmoved; its storer may still be at work
        time.sleep(0.35)
        late = poller.poll_once()
    finally:
        poller.close()
    assert (first.stored, first.duplicates, first.moved) == (1, 1, 1)
    assert (seen.moved, late.moved) == (0, 1)
    assert server_flags(imap, "INBOX") == {}
    assert raw_count(db) == 1


def test_uidvalidity_change_rescans_without_storing_twice(imap, db, poller_logs):
    deliver(imap, 3)
    poller = make_poller(mailbox_for(imap), db)
    poller.poll_once()
    before = state_of(db).uidvalidity
    poller.close()  # the fixture resets with no session open

    imap.reset_uidvalidity()
    deliver(imap, 1, first=4)
    try:
        result = poller.poll_once()
    finally:
        poller.close()

    assert (result.stored, result.duplicates) == (1, 3)
    assert raw_count(db) == 4
    assert state_of(db).uidvalidity != before
    assert all(SEEN in f for f in server_flags(imap).values())
    assert any(r.levelno == logging.WARNING and "UIDVALIDITY" in r.getMessage()
               and NAME in r.getMessage() for r in poller_logs.records)


@pytest.mark.parametrize("processed_folder", ["", "Processed"])
def test_two_pollers_racing_on_postgres_store_each_mail_once(imap, pg_url, processed_folder):
    Database(pg_url).upgrade()
    deliver(imap, 50)
    mailbox = mailbox_for(imap, batch_size=5, processed_folder=processed_folder)
    databases = [Database(pg_url), Database(pg_url)]  # one engine each, as two processes
    pollers = [make_poller(mailbox, database) for database in databases]
    start = threading.Barrier(len(pollers))
    results, errors = [], []

    def poll(poller: MailboxPoller) -> None:
        try:
            start.wait()
            results.append(poller.poll_once())
        except BaseException as error:
            errors.append(error)
        finally:
            poller.close()

    threads = [threading.Thread(target=poll, args=(poller,)) for poller in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert raw_count(databases[0]) == 50
        assert sum(result.stored for result in results) == 50
        if processed_folder:
            assert server_flags(imap, "INBOX") == {}
            assert len(server_flags(imap, processed_folder)) == 50
        else:
            assert all(SEEN in f for f in server_flags(imap).values())
    finally:
        for database in databases:
            database.engine.dispose()


# --------------------------------------------------------------------------- the loop


def test_idle_picks_up_new_mail_within_seconds_and_stop_is_prompt(imap, db):
    running = RunningPoller(make_poller(mailbox_for(imap), db))
    try:
        wait_until(lambda: (s := state_of(db)) is not None and s.last_success_at, timeout=10)
        time.sleep(0.3)  # let it settle into IDLE
        imap.deliver(complaint(1))
        assert wait_until(lambda: raw_count(db) == 1, timeout=3) < 3
        wait_until(lambda: all(SEEN in f for f in server_flags(imap).values()), timeout=3)
    finally:
        took = running.finish()
    assert took < 1.5


def test_without_idle_the_poll_interval_picks_up_mail(imap, db):
    running = RunningPoller(make_poller(mailbox_for(imap, idle=False, poll_interval=0.2), db))
    try:
        wait_until(lambda: (s := state_of(db)) is not None and s.last_success_at, timeout=10)
        imap.deliver(complaint(1))
        wait_until(lambda: raw_count(db) == 1, timeout=3)
    finally:
        running.finish()


def test_lost_connections_are_recorded_and_the_poller_comes_back(imap, db, poller_logs):
    proxy = TcpProxy(imap.port)  # not open yet: its port refuses connections
    mailbox = mailbox_for(imap).model_copy(update={"port": proxy.port})
    running = RunningPoller(make_poller(mailbox, db))
    try:
        wait_until(lambda: (s := state_of(db)) is not None and s.last_error, timeout=5)
        assert "ConnectionRefusedError" in state_of(db).last_error

        imap.deliver(complaint(1))
        proxy.open()
        wait_until(lambda: raw_count(db) == 1, timeout=5)
        wait_until(lambda: state_of(db).last_error is None, timeout=5)

        time.sleep(0.3)  # in IDLE now
        proxy.cut()  # the socket dies under the poller, with no BYE
        imap.deliver(complaint(2))
        wait_until(lambda: raw_count(db) == 2, timeout=5)
    finally:
        running.finish()
        proxy.close()
    warnings = [r.getMessage() for r in poller_logs.records if r.levelno == logging.WARNING]
    assert any(NAME in line and "connection failed" in line for line in warnings)
    assert all(SEEN in f for f in server_flags(imap).values())


def test_poll_once_records_a_failure_before_raising(imap, db):
    # `triage run --once` and the poll job call poll_once alone: the health must show it too.
    mailbox = mailbox_for(imap).model_copy(update={"port": free_port()})
    poller = make_poller(mailbox, db)
    with pytest.raises(ConnectionRefusedError):
        poller.poll_once()
    state = state_of(db)
    assert "ConnectionRefusedError" in state.last_error and state.last_error_at is not None
    assert state.last_success_at is None


def test_failing_token_command_marks_the_token_and_never_escapes(imap, db, poller_logs):
    mailbox = mailbox_for(imap, auth="xoauth2", token_command="false")
    running = RunningPoller(make_poller(mailbox, db))
    try:
        wait_until(lambda: (s := state_of(db)) is not None and s.token_state == "refresh_failed",
                   timeout=5)
        time.sleep(0.3)  # a few more attempts: it keeps retrying
    finally:
        running.finish()
    state = state_of(db)
    assert "token_command exited with status 1" in state.last_error
    errors = [r for r in poller_logs.records
              if r.name == "triage.intake.poller" and r.levelno == logging.ERROR]
    assert len(errors) >= 2 and all(NAME in r.getMessage() for r in errors)


def test_refused_token_marks_the_token_and_is_never_logged(imap, db, poller_logs, monkeypatch):
    token = "ya29.a0-very-secret-access-token"
    monkeypatch.setenv("TEST_POLLER_TOKEN", token)
    # The fixture's Dovecot offers PLAIN and LOGIN only, so XOAUTH2 is refused.
    mailbox = mailbox_for(imap, auth="xoauth2", token_env="TEST_POLLER_TOKEN")
    running = RunningPoller(make_poller(mailbox, db))
    try:
        wait_until(lambda: (s := state_of(db)) is not None and s.token_state == "refresh_failed",
                   timeout=5)
    finally:
        running.finish()
    assert "LoginError" in state_of(db).last_error
    assert token not in state_of(db).last_error
    assert token not in poller_logs.text
    assert any(r.levelno == logging.ERROR and NAME in r.getMessage() for r in poller_logs.records)


# --------------------------------------------------------------------------- triage mailboxes


def test_mailboxes_command_shows_each_mailbox_health(tmp_path):
    config = Config(database=DatabaseConfig(url=f"sqlite:///{tmp_path}/cli.db"), mailboxes=[
        MailboxConfig(name="main", host="imap.example.gov"),
        MailboxConfig(name="oauth", host="imap.example.gov", auth="xoauth2"),
        MailboxConfig(name="new", host="imap.example.gov"),
    ])
    app = App(config)
    with app.db.transaction() as session:
        mailbox_state(session, "main")
        record_poll_success(session, "main", waiting=7, at=utcnow())
        mailbox_state(session, "oauth")
        record_poll_error(session, "oauth", "TokenUnavailable: token_command exited with status 1",
                          utcnow(), token_state="refresh_failed")
    lazy_app = SimpleNamespace(get=lambda: app)

    result = CliRunner().invoke(mailboxes_command, ["--format", "jsonl"], obj=lazy_app)
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in map(json.loads, result.output.splitlines())}
    assert rows["main"]["health"] == "ok" and rows["main"]["waiting"] == 7
    assert rows["main"]["last_success"] is not None and rows["main"]["last_error"] is None
    assert rows["oauth"]["health"] == "token" and rows["oauth"]["token_state"] == "refresh_failed"
    assert "exited with status 1" in rows["oauth"]["last_error"]
    assert rows["new"]["health"] == "never" and rows["new"]["last_success"] is None

    table = CliRunner().invoke(mailboxes_command, [], obj=lazy_app)
    assert table.exit_code == 0, table.output
    assert all(name in table.output for name in ("main", "oauth", "new"))


def test_mailboxes_check_exits_non_zero_when_a_mailbox_is_unhealthy(tmp_path):
    from click.testing import CliRunner

    from models.base import utcnow
    from models.db import Database
    from models.raw_messages import mailbox_state, record_poll_error
    from worker.cli import triage

    config = tmp_path / "triage.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/t.db"\n[[mailboxes]]\nname = "m"\nhost = "h"\n')
    database = Database(f"sqlite:///{tmp_path}/t.db")
    database.upgrade()
    with database.transaction() as session:
        mailbox_state(session, "m")
    assert CliRunner().invoke(triage, ["--config", str(config), "mailboxes", "--check"]).exit_code == 0
    with database.transaction() as session:
        record_poll_error(session, "m", "connection refused", utcnow())
    result = CliRunner().invoke(triage, ["--config", str(config), "mailboxes", "--check", "--format", "jsonl"])
    assert result.exit_code == 1 and "connection refused" in result.output
