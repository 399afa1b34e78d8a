"""The IMAP poller: one per mailbox, the only code in the project that speaks IMAP.

Exactly once: each fetched batch of mail is stored in one transaction, together with the
mailbox's watermark ("every UID up to here is stored"), and only after that commit is it
acknowledged on the server (flagged \\Seen, or moved to the processed folder). A crash
between the two leaves a stored mail unacknowledged at or below the watermark; the next
poll acknowledges it without fetching it again (a move waits `move_grace`, in case its
storer is alive and moving it). Mail above the watermark is fetched again after a crash,
and the dedup key keeps it to one row.
"""

from __future__ import annotations

import logging
import os
import random
import shlex
import ssl
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sqlalchemy.exc import StatementError

from models.base import utcnow
from models.db import Database
from models.raw_messages import (
    advance_watermark,
    mailbox_state,
    record_poll_error,
    record_poll_success,
    reset_watermark,
    store_raw_message,
)
from worker.batches import MAX_BATCH_BYTES, batched, plan_batches
from worker.config import MailboxConfig

log = logging.getLogger("triage.intake.poller")

SEEN = b"\\Seen"
DELETED = b"\\Deleted"
# UIDs per command: a backlog of thousands must not become one over-long command line.
UID_CHUNK = 500
# Another session (a second poller) expunging what we were about to touch: retry on the rest.
EXPUNGE_RETRIES = 3
# Leave IDLE now and then: RFC 2177 asks for at most 29 minutes, and NAT boxes forget sooner.
IDLE_SECONDS = 290.0
# A live poller moves what it stored within its batch, seconds later; mail still unmoved
# after this long belongs to a poller that died, and another may move it.
MOVE_GRACE_SECONDS = 300.0
# How often IDLE wakes to look at the stop event: bounds how long `stop` takes.
IDLE_CHECK_SECONDS = 0.5
NEWS = (b"EXISTS", b"RECENT")


class TokenUnavailable(Exception):
    """No XOAUTH2 access token could be obtained; the message never holds the token."""


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts: doubling from `first` up to `longest`, jittered."""

    first: float = 1.0
    longest: float = 300.0

    def delay(self, failures: int) -> float:
        ceiling = min(self.longest, self.first * 2 ** min(failures, 30))
        # Half fixed, half random: pollers that failed together do not retry together.
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class PollResult:
    stored: int = 0
    duplicates: int = 0
    flagged: int = 0
    moved: int = 0
    waiting: int = 0


def access_token(mailbox: MailboxConfig, timeout: float) -> str:
    """The XOAUTH2 token: from `token_env`, else the stdout of `token_command`."""
    if mailbox.token_env and os.environ.get(mailbox.token_env, "").strip():
        return os.environ[mailbox.token_env].strip()
    if not mailbox.token_command:
        raise TokenUnavailable(f"environment variable {mailbox.token_env or '(token_env)'} "
                               "is empty and no token_command is set")
    try:
        # No shell: a timed-out command is killed for sure; wrap pipelines in `sh -c '…'`.
        finished = subprocess.run(shlex.split(mailbox.token_command), capture_output=True,
                                  text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise TokenUnavailable(f"token_command timed out after {timeout:g}s") from None
    except OSError as error:
        raise TokenUnavailable(f"token_command cannot run: {error.strerror}") from None
    token = finished.stdout.strip()
    if finished.returncode != 0 or not token:
        # Its output may hold secrets: report the exit status only.
        raise TokenUnavailable(f"token_command exited with status {finished.returncode}"
                               + ("" if token else " and printed no token"))
    return token


def open_connection(mailbox: MailboxConfig, socket_timeout: float,
                    token_timeout: float) -> IMAPClient:
    """A logged-in client; TLS as configured, never a silent fall-back to plain text."""
    token = access_token(mailbox, token_timeout) if mailbox.auth == "xoauth2" else None
    client = IMAPClient(mailbox.host, mailbox.port, ssl=mailbox.tls == "ssl",
                        ssl_context=ssl.create_default_context(), timeout=socket_timeout)
    try:
        if mailbox.tls == "starttls":
            client.starttls(ssl.create_default_context())
        if token is not None:
            client.oauth2_login(mailbox.username, token)
        else:
            client.login(mailbox.username, mailbox.password())
        if mailbox.processed_folder:
            ensure_folder(client, mailbox.processed_folder)
    except BaseException:
        _shut(client)
        raise
    return client


def ensure_folder(client: IMAPClient, folder: str) -> None:
    if client.folder_exists(folder):
        return
    try:
        client.create_folder(folder)
    except IMAPClient.Error:
        if not client.folder_exists(folder):  # else another poller created it first
            raise


def uids_above(client: IMAPClient, last_uid: int) -> list[int]:
    # For `n:*` the server always answers the highest UID, even when it is below n.
    return sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)


def message_sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for chunk in chunked(uids):
        _, fetched = on_present_uids(client, chunk, lambda present: client.fetch(present, ["RFC822.SIZE"]))
        fetched = fetched or {}
        sizes.update({uid: item[b"RFC822.SIZE"] for uid, item in fetched.items()
                      if b"RFC822.SIZE" in item})
    return sizes


def chunked(uids: list[int]) -> list[list[int]]:
    return batched(uids, UID_CHUNK)


def on_present_uids(client: IMAPClient, uids: list[int],
                    operation: Callable[[list[int]], Any]) -> tuple[list[int], Any]:
    """`operation(uids)`; the UIDs it ran on and its result.

    A server refuses a command naming mail that another session expunged meanwhile
    (NO [EXPUNGEISSUED]; a second poller moved it after storing it): run it again on the
    mail still present.
    """
    for attempt in range(EXPUNGE_RETRIES):
        try:
            return uids, operation(uids)
        except IMAPClient.Error as error:
            if "EXPUNGEISSUED" not in str(error).upper() or attempt == EXPUNGE_RETRIES - 1:
                raise
        client.noop()  # lets the server tell this session about the expunges
        uids = sorted(set(client.search(["UID", ",".join(map(str, uids))])) & set(uids))
        if not uids:
            break
    return [], None


def describe_error(error: BaseException) -> str:
    """One line for logs and the mailbox's health, free of mail content.

    SQLAlchemy's own text lists the statement's parameters, the raw mail among them.
    """
    message = str(getattr(error, "orig", None) or error) if isinstance(error, StatementError) else str(error)
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    return f"{type(error).__name__}: {first_line}"[:500]


def is_token_problem(error: BaseException, mailbox: MailboxConfig) -> bool:
    return isinstance(error, TokenUnavailable) or (
        isinstance(error, LoginError) and mailbox.auth == "xoauth2")


def _shut(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:
        pass  # already closed: nothing left to release


class MailboxPoller:
    """Fetches one mailbox's new mail into `raw_messages`; `run` keeps doing it until stopped.

    `on_stored` receives the ids of the rows a batch created, after they committed.
    """

    def __init__(self, mailbox: MailboxConfig, db: Database,
                 on_stored: Callable[[list[int]], None], *, backoff: Backoff | None = None,
                 idle_seconds: float = IDLE_SECONDS, max_batch_bytes: int = MAX_BATCH_BYTES,
                 socket_timeout: float = 60.0, token_timeout: float = 30.0,
                 move_grace: float = MOVE_GRACE_SECONDS):
        self.mailbox = mailbox
        self.db = db
        self.on_stored = on_stored
        self.backoff = backoff or Backoff()
        self.idle_seconds = idle_seconds
        self.max_batch_bytes = max_batch_bytes
        self.socket_timeout = socket_timeout
        self.token_timeout = token_timeout
        self.move_grace = move_grace
        self._client: IMAPClient | None = None
        # Stored but unmoved mail, by (UIDVALIDITY, UID): since when this poller has seen it so.
        self._unmoved_since: dict[tuple[int, int], float] = {}

    # ------------------------------------------------------------------ one poll

    def poll_once(self) -> PollResult:
        """Store every mail above the watermark and acknowledge it; the mailbox's health either way.

        A failure is logged and recorded on the mailbox, then raised.
        """
        try:
            return self._poll()
        except Exception as error:
            self._record_failure(error, retry_in=None)
            raise

    def _poll(self) -> PollResult:
        try:
            client = self._connection()
            result = self._drain(client)
        except BaseException:
            self._drop_connection()
            raise
        self._record_success(result.waiting)
        return result

    def _drain(self, client: IMAPClient) -> PollResult:
        uidvalidity = client.select_folder(self.mailbox.folder)[b"UIDVALIDITY"]
        last_uid = self._watermark(uidvalidity)
        result = PollResult()
        # Stored before a crash but never acknowledged: acknowledge, do not fetch again.
        if last_uid:
            self._acknowledge_counted(client, self._unacknowledged(client, uidvalidity, last_uid),
                                      result)
        uids = uids_above(client, last_uid)
        if uids:
            sizes = message_sizes(client, uids)
            for batch in plan_batches(sizes, self.mailbox.batch_size, self.max_batch_bytes):
                self._take_batch(client, uidvalidity, batch, result)
                last_uid = max(last_uid, batch[-1])
        result.waiting = len(uids_above(client, last_uid))
        return result

    def _watermark(self, uidvalidity: int) -> int:
        with self.db.transaction() as session:
            state = mailbox_state(session, self.mailbox.name)
            if state.uidvalidity == uidvalidity:
                return state.last_uid
            if state.uidvalidity is not None:
                log.warning("mailbox %s: UIDVALIDITY changed from %s to %s; rescanning the folder",
                            self.mailbox.name, state.uidvalidity, uidvalidity)
            reset_watermark(session, self.mailbox.name, uidvalidity)
            return 0

    def _unacknowledged(self, client: IMAPClient, uidvalidity: int, last_uid: int) -> list[int]:
        if not self.mailbox.processed_folder:
            # Flagging twice is harmless, so unseen mail is flagged at once (a person who
            # marks old mail unread sees it flagged \Seen again).
            return sorted(uid for uid in client.search(["UID", f"1:{last_uid}", "UNSEEN"])
                          if uid <= last_uid)
        unmoved = [uid for uid in client.search(["UID", f"1:{last_uid}"]) if uid <= last_uid]
        return self._overdue(uidvalidity, unmoved)

    def _overdue(self, uidvalidity: int, unmoved: list[int]) -> list[int]:
        """The UIDs unmoved for `move_grace` seconds: their storer died before moving them.

        Moving one while its live storer does too would leave two copies in the processed folder.
        """
        now = time.monotonic()
        self._unmoved_since = {(uidvalidity, uid): self._unmoved_since.get((uidvalidity, uid), now)
                               for uid in unmoved}
        return sorted(uid for (_, uid), since in self._unmoved_since.items()
                      if now - since >= self.move_grace)

    def _take_batch(self, client: IMAPClient, uidvalidity: int, batch: list[int],
                    result: PollResult) -> None:
        _, fetched = on_present_uids(client, batch, lambda present: client.fetch(present, ["BODY.PEEK[]"]))
        delivered: dict[int, bytes] = {}
        for uid in batch:
            raw = (fetched or {}).get(uid, {}).get(b"BODY[]")
            if raw:
                delivered[uid] = raw
            else:
                log.info("mailbox %s uid %d: no longer in the folder, skipped", self.mailbox.name, uid)
        new_ids: dict[int, int] = {}
        duplicates: list[int] = []
        for uid, raw_id in self.store_messages(uidvalidity, delivered).items():
            if raw_id is None:
                duplicates.append(uid)
                log.info("mailbox %s uid %d: already stored", self.mailbox.name, uid)
            else:
                new_ids[uid] = raw_id
                log.info("mailbox %s uid %d: stored as raw message %d", self.mailbox.name, uid, raw_id)
        # Moving: only the poller that stored a mail moves it, or a second poller racing on
        # the mailbox would leave a second copy in the processed folder. A duplicate nobody
        # moves (its storer died) is below the watermark: a later poll moves it (_overdue).
        taken = sorted(new_ids) if self.mailbox.processed_folder else sorted([*new_ids, *duplicates])
        self._acknowledge_counted(client, taken, result)
        result.stored += len(new_ids)
        result.duplicates += len(duplicates)
        if new_ids:
            self.on_stored(list(new_ids.values()))

    def store_messages(self, uidvalidity: int, delivered: dict[int, bytes]) -> dict[int, int | None]:
        """A fetched batch and the watermark in one transaction: per UID the new row's id, None
        for a mail stored before. Nothing is flagged on the server until this has committed."""
        if not delivered:
            return {}
        with self.db.transaction() as session:
            stored = {uid: store_raw_message(session, self.mailbox.name, uidvalidity, uid, raw)
                      for uid, raw in delivered.items()}
            advance_watermark(session, self.mailbox.name, max(delivered), uidvalidity)
        return stored

    # ------------------------------------------------------------------ acknowledging

    def _acknowledge_counted(self, client: IMAPClient, uids: list[int], result: PollResult) -> None:
        for chunk in chunked(uids):
            done, _ = on_present_uids(client, chunk, lambda present: self.acknowledge(client, present))
            if self.mailbox.processed_folder:
                result.moved += len(done)
            else:
                result.flagged += len(done)

    def acknowledge(self, client: IMAPClient, uids: list[int]) -> None:
        """Mark stored mail as taken: \\Seen, or moved to the processed folder."""
        folder = self.mailbox.processed_folder
        if not folder:
            client.add_flags(uids, [SEEN], silent=True)
        elif self.can_move(client):
            client.move(uids, folder)
        else:
            client.copy(uids, folder)
            client.add_flags(uids, [DELETED], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            else:
                client.expunge()  # also removes mail a person had marked \Deleted

    def can_move(self, client: IMAPClient) -> bool:
        return client.has_capability("MOVE")

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        """Poll, wait for news (IDLE or the poll interval), repeat until `stop` is set.

        Every failure is logged, recorded on the mailbox and retried after a backoff;
        nothing escapes, so the thread never dies silently.
        """
        failures = 0
        log.info("mailbox %s: poller started", self.mailbox.name)
        while not stop.is_set():
            try:
                self._poll()
                self._wait_for_news(stop)
                failures = 0
            except Exception as error:
                retry_in = self.backoff.delay(failures)
                failures += 1
                self._drop_connection()
                self._record_failure(error, retry_in)
                stop.wait(retry_in)
        self.close()
        log.info("mailbox %s: poller stopped", self.mailbox.name)

    def _wait_for_news(self, stop: threading.Event) -> None:
        client = self._client
        if client is not None and self.mailbox.idle and client.has_capability("IDLE"):
            self._idle(client, stop)
        else:
            stop.wait(self.mailbox.poll_interval)

    def _idle(self, client: IMAPClient, stop: threading.Event) -> None:
        """Return when the server reports new mail, after `idle_seconds`, or on `stop`."""
        deadline = time.monotonic() + self.idle_seconds
        client.idle()
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            wait = min(IDLE_CHECK_SECONDS, remaining)
            started = time.monotonic()
            responses = client.idle_check(timeout=wait)
            if any(response[0] == b"BYE" for response in responses):
                raise ConnectionError("server said BYE during IDLE")
            if any(len(response) > 1 and response[1] in NEWS for response in responses):
                break
            if not responses and time.monotonic() - started < wait / 2:
                # imapclient swallows EOF inside idle_check; leaving IDLE reveals a dead socket.
                break
        client.idle_done()

    # ------------------------------------------------------------------ connection

    def _connection(self) -> IMAPClient:
        if self._client is not None:
            try:
                self._client.noop()
            except Exception:
                # A connection dropped while we slept is expected, not an error worth recording.
                log.debug("mailbox %s: connection went stale, reconnecting", self.mailbox.name)
                self._drop_connection()
        if self._client is None:
            self._client = open_connection(self.mailbox, self.socket_timeout, self.token_timeout)
            log.info("mailbox %s: connected to %s:%d", self.mailbox.name, self.mailbox.host,
                     self.mailbox.port)
        return self._client

    def _drop_connection(self) -> None:
        if self._client is not None:
            _shut(self._client)
            self._client = None

    def close(self) -> None:
        """Log out; the next poll connects again."""
        if self._client is None:
            return
        try:
            self._client.logout()
        except Exception:
            pass  # the connection is gone already: shutting it below is all that is left
        self._drop_connection()

    # ------------------------------------------------------------------ health

    def _record_success(self, waiting: int) -> None:
        with self.db.transaction() as session:
            mailbox_state(session, self.mailbox.name)
            record_poll_success(session, self.mailbox.name, waiting, utcnow())

    def _record_failure(self, error: Exception, retry_in: float | None) -> None:
        name, description = self.mailbox.name, describe_error(error)
        token_problem = is_token_problem(error, self.mailbox)
        then = f"; retrying in {retry_in:.2f}s" if retry_in is not None else ""
        if token_problem:
            log.error("mailbox %s: XOAUTH2 token unavailable or refused (%s)%s", name, description, then)
        elif isinstance(error, LoginError):
            log.error("mailbox %s: login refused (%s)%s", name, description, then)
        elif isinstance(error, OSError | IMAPClient.Error):
            log.warning("mailbox %s: connection failed (%s)%s", name, description, then)
        else:
            # Frames only: the exception's own text may quote the mail (see describe_error).
            log.error("mailbox %s: poll failed (%s)%s\n%s", name, description, then,
                      "".join(traceback.format_tb(error.__traceback__)).rstrip())
        try:
            with self.db.transaction() as session:
                mailbox_state(session, name)
                record_poll_error(session, name, description, utcnow(),
                                  token_state="refresh_failed" if token_problem else None)
        except Exception:
            log.exception("mailbox %s: could not record the poll error", name)
