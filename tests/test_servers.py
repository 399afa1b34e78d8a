"""Each loopback server fixture, shown working."""

from __future__ import annotations

import smtplib
import threading
from email.message import EmailMessage

import pytest
import redis
import sqlalchemy as sa
from imapclient import IMAPClient


def _mail(subject: str, body: str = "你好，我要投诉。") -> bytes:
    message = EmailMessage()
    message["From"] = "citizen@example.org"
    message["To"] = "complaints@example.gov"
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@example.org>"
    message.set_content(body)
    return message.as_bytes()


def _login(imap) -> IMAPClient:
    client = IMAPClient(imap.host, imap.port, ssl=False, timeout=10)
    client.login(imap.user, imap.password)
    return client


def test_postgres_answers_select_1(pg_url):
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            assert conn.execute(sa.text("SHOW server_encoding")).scalar() == "UTF8"
    finally:
        engine.dispose()


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_gets_its_own_database(pg_url, round_):
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE seen (n int)"))  # fails if a table leaked
            conn.execute(sa.text("INSERT INTO seen VALUES (:n)"), {"n": round_})
    finally:
        engine.dispose()


@pytest.mark.parametrize("round_", [1, 2])
def test_redis_pings_and_starts_empty(redis_url, round_):
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping() is True
        assert client.dbsize() == 0
        client.set("leftover", round_)
    finally:
        client.close()


def test_imap_fetches_two_delivered_mails(imap):
    imap.deliver(_mail("first complaint"))
    imap.deliver(_mail("second complaint", "噪音扰民"))
    client = _login(imap)
    try:
        client.select_folder(imap.folder)
        uids = client.search()
        assert len(uids) == 2
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "RFC822"])
        subjects = sorted(
            item[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip() for item in fetched.values())
        assert subjects == ["Subject: first complaint", "Subject: second complaint"]
        assert all(b"Message-ID" in item[b"RFC822"] for item in fetched.values())
    finally:
        client.logout()


def test_imap_starts_empty(imap):
    client = _login(imap)
    try:
        assert client.select_folder(imap.folder)[b"EXISTS"] == 0
    finally:
        client.logout()


def test_imap_uidvalidity_changes_after_reset(imap):
    imap.deliver(_mail("before reset"))
    client = _login(imap)
    before = client.select_folder(imap.folder)[b"UIDVALIDITY"]
    client.logout()

    imap.reset_uidvalidity()

    client = _login(imap)
    try:
        selected = client.select_folder(imap.folder)
        assert selected[b"UIDVALIDITY"] != before
        assert selected[b"EXISTS"] == 1  # the mail stays, only its UID is new
    finally:
        client.logout()


def test_imap_idle_returns_when_mail_is_delivered(imap):
    client = _login(imap)
    try:
        assert b"IDLE" in client.capabilities()
        client.select_folder(imap.folder)
        client.idle()
        delivery = threading.Timer(0.3, imap.deliver, args=(_mail("during idle"),))
        delivery.start()
        try:
            responses = client.idle_check(timeout=15)
        finally:
            delivery.join()
            client.idle_done()
        assert any(r[1] == b"EXISTS" for r in responses), responses
    finally:
        client.logout()


def test_smtp_records_a_sent_mail(smtp):
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        client.sendmail("desk@example.gov", ["citizen@example.org"], _mail("your case"))
    (received,) = smtp.received
    assert received.mail_from == "desk@example.gov"
    assert received.rcpt_tos == ["citizen@example.org"]
    assert b"Subject: your case" in received.data


def test_smtp_answers_451_then_250_as_scripted(smtp):
    smtp.reply("451 4.3.0 try later", "250 OK")
    raw = _mail("retry me")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("desk@example.gov", ["citizen@example.org"], raw)
        assert refused.value.smtp_code == 451
        client.sendmail("desk@example.gov", ["citizen@example.org"], raw)
    assert len(smtp.refused) == 1
    assert [m.rcpt_tos for m in smtp.received] == [["citizen@example.org"]]


def test_smtp_rejects_one_recipient(smtp):
    smtp.reject_recipient("ghost@example.org")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
        refused = client.sendmail(
            "desk@example.gov", ["ghost@example.org", "citizen@example.org"], _mail("two"))
    assert refused == {"ghost@example.org": (550, b"5.1.1 no such user")}
    assert smtp.received[0].rcpt_tos == ["citizen@example.org"]
