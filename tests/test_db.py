"""The schema: migrations on SQLite and PostgreSQL, in step with the models; case numbers."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError

from models import Base, Case, ModelVersion
from models.base import utcnow
from models.case_numbers import next_case_number, number_scope
from models.db import Database
from models.mail import RawMessage
from models.raw_messages import store_raw_message, unprocessed_batches


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'triage.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = Database(url)
    database.upgrade()
    yield database
    database.engine.dispose()


def test_migrations_create_every_table_and_match_the_models(database):
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_twice_is_harmless(database):
    database.upgrade()
    assert "cases" in inspect(database.engine).get_table_names()


def _open_case(database: Database, fmt: str, day: date, token: str) -> str:
    with database.transaction() as session:
        number = next_case_number(session, fmt, day)
        session.add(Case(number=number, kind="complaint", category="other",
                         department="customer_service", severity="normal", reply_token=token))
    return number


def test_case_numbers_follow_the_policy_format(database):
    fmt = "TS-{date:%Y%m%d}-{seq:04d}"
    first = _open_case(database, fmt, date(2026, 11, 22), "a")
    second = _open_case(database, fmt, date(2026, 11, 22), "b")
    next_day = _open_case(database, fmt, date(2026, 11, 23), "c")
    assert (first, second, next_day) == ("TS-20261122-0001", "TS-20261122-0002", "TS-20261123-0001")
    monthly = _open_case(database, "{date:%y%m}{seq:02d}", date(2026, 11, 22), "d")
    assert monthly == "261101"
    assert number_scope("{date:%y%m}{seq:02d}", date(2026, 11, 22)) == "2611#"


def test_a_rolled_back_case_gives_its_number_back(database):
    fmt = "TS-{date:%Y%m%d}-{seq:04d}"
    with pytest.raises(RuntimeError), database.transaction() as session:
        next_case_number(session, fmt, date(2026, 11, 22))
        raise RuntimeError("crash before commit")
    assert _open_case(database, fmt, date(2026, 11, 22), "x") == "TS-20261122-0001"


@pytest.mark.postgres
def test_case_numbers_never_repeat_across_many_concurrent_workers(pg_url):
    database = Database(pg_url)
    database.upgrade()
    fmt = "TS-{date:%Y%m%d}-{seq:04d}"

    def open_many(worker: int) -> list[str]:
        return [_open_case(database, fmt, date(2026, 11, 22), f"w{worker}-{n}") for n in range(25)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        numbers = [n for batch in pool.map(open_many, range(16)) for n in batch]
    assert len(numbers) == len(set(numbers)) == 400
    assert sorted(numbers) == [f"TS-20261122-{n:04d}" for n in range(1, 401)]
    with database.sessions() as session:
        assert len(session.scalars(select(Case.number)).all()) == 400
    database.engine.dispose()


def test_the_database_refuses_two_active_model_versions(database):
    with database.transaction() as session:
        session.add(ModelVersion(version="a", path="/a", data_sha256="0" * 64, active=True))
        session.add(ModelVersion(version="b", path="/b", data_sha256="0" * 64, active=False))
    with pytest.raises(IntegrityError), database.transaction() as session:
        session.add(ModelVersion(version="c", path="/c", data_sha256="0" * 64, active=True))


def test_unprocessed_messages_come_back_in_bounded_batches(database, monkeypatch):
    with database.transaction() as session:
        mails = [f"Subject: {uid:04d}\r\n\r\n{'x' * 100}".encode() for uid in range(1, 121)]
        ids = [store_raw_message(session, "inbox", 1, uid, raw) for uid, raw in enumerate(mails, 1)]
        session.execute(update(RawMessage).where(RawMessage.id.in_(ids[:10])).values(status="processed"))
        session.execute(update(RawMessage).where(RawMessage.id.in_(ids[-5:]))
                        .values(received_at=utcnow() + timedelta(hours=1)))
    with database.sessions() as session:
        found = unprocessed_batches(session, received_before=utcnow() + timedelta(minutes=1))
    assert [len(batch) for batch in found] == [50, 50, 5]
    assert [raw_id for batch in found for raw_id in batch] == ids[10:-5]
    monkeypatch.setattr("models.raw_messages.MAX_BATCH_BYTES", 3 * len(mails[0]))
    with database.sessions() as session:
        small = unprocessed_batches(session)
    assert [raw_id for batch in small for raw_id in batch] == ids[10:] and {len(batch) for batch in small} == {3, 2}


def test_sqlite_commits_survive_a_power_cut(tmp_path):
    """WAL with synchronous FULL (2): each commit is on disk before intake moves the mail it
    stored out of the inbox. NORMAL (1) may lose the last commits to a power cut."""
    db = Database(f"sqlite:///{tmp_path / 'triage.db'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    db.engine.dispose()
