"""Fixtures for real servers on loopback; the servers themselves are in tests/servers.py.

Session-scoped servers start once, on first use; function-scoped fixtures give each
test a clean slate on them. A server that is not installed skips its tests on a
laptop and fails them when CI=true. Tests that use a server's fixture get its marker
(postgres, redis, imap, rabbitmq), so ``-m "not postgres"`` leaves them out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from servers import (
    ImapServer,
    PostgresServer,
    RabbitServer,
    RedisServer,
    ServerMissing,
    SmtpServer,
    skip_or_fail,
    start_imap,
    start_postgres,
    start_rabbitmq,
    start_redis,
    start_smtp,
)

T = TypeVar("T")

STARTUP_SECONDS: dict[str, float] = {}

_MARKERS = {
    "postgres_server": "postgres", "pg_url": "postgres",
    "redis_server": "redis", "redis_url": "redis",
    "imap_server": "imap", "imap": "imap",
    "rabbitmq_server": "rabbitmq", "amqp_url": "rabbitmq",
}


def _start(name: str, start: Callable[[], T]) -> T:
    began = time.perf_counter()
    try:
        server = start()
    except ServerMissing as exc:
        missing = str(exc)
    else:
        STARTUP_SECONDS[name] = max(STARTUP_SECONDS.get(name, 0.0), time.perf_counter() - began)
        return server
    skip_or_fail(missing)  # outside the except: no chained traceback in the report


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = _start("postgres", start_postgres)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a database of this test's own (test_<n>), dropped afterwards."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.database_url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = _start("redis", start_redis)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """redis://127.0.0.1:PORT/0 with every database empty at the start of the test."""
    redis_server.flush()
    yield redis_server.url
    redis_server.flush()


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[RabbitServer]:
    server = _start("rabbitmq", start_rabbitmq)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def amqp_url(rabbitmq_server: RabbitServer) -> str:
    return rabbitmq_server.url


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapServer]:
    server = _start("imap", start_imap)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap(imap_server: ImapServer) -> ImapServer:
    """The IMAP server with user complaints/secret and an empty INBOX."""
    imap_server.clear()
    return imap_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A fresh recording SMTP server for this test."""
    server = _start("smtp", start_smtp)
    try:
        yield server
    finally:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in _MARKERS:
                item.add_marker(_MARKERS[fixture])


def pytest_terminal_summary(terminalreporter) -> None:
    if STARTUP_SECONDS:
        times = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in STARTUP_SECONDS.items())
        terminalreporter.write_line(f"server start-up: {times}")
