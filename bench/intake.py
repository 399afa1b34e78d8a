"""Intake benchmark: N realistic complaint mails through a real IMAP server into cases.

    .venv/bin/python bench/intake.py [--mails N] [--rate R] [--threads N] [--profile FILE] [--no-pin]

Starts Dovecot (pymap where Dovecot is missing) and an SMTP sink in a process of its own,
delivers N mails built from the labelled corpus (classifier/data/corpus) into the Maildir,
and runs `Runner(app).run_once()` on SQLite with the in-process broker and its default two
worker threads (`--threads`): polling, storing, the intake pipeline, opening cases and
sending the acknowledgements and forwards over SMTP. It prints

- mails per second end to end (start-up — schema and model loading — reported apart),
- p50 / p95 from delivery into the Maildir to `Case.created_at`,
- the floor, measured in the same run on the same mails: `parse_message` +
  `normalize_text` + `classifier.text.tokens` alone, and the ratio of the two,
- the least a mail can cost: the floor plus, each alone at its cheapest, classification
  beyond segmentation, field extraction, handing the run's sent messages, already built, to
  an SMTP server, and a durable commit per mail sent and per stored batch,
- CPU time per stage (poll/store, each pipeline step, opening the case, sending).

With `--rate R` the mails arrive R a second while `triage run` (IDLE, not `--once`) works:
the delivery → case latency under a steady load rather than behind a backlog.

By default this process is pinned to one core (the servers, started before, keep the
others), so the figures are those of one core. `--profile FILE` writes cProfile
statistics of the poller and worker threads, merged, and prints the top entries.

`corpus_mails()` is also what tests/test_exactly_once.py delivers.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import functools
import html
import itertools
import json
import logging
import multiprocessing
import os
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = ROOT / "classifier" / "data" / "corpus"
sys.path.insert(0, str(ROOT / "tests"))  # the loopback servers of the test suite

RECIPIENT = "complaints@example.com"
DOMAINS = ("qq.com", "163.com", "126.com", "foxmail.com", "sina.com", "139.com", "outlook.com",
           "gmail.com")
CHINA = timezone(timedelta(hours=8))
# Fixed, so the same N gives the same bytes run after run.
FIRST_DATE = datetime(2026, 11, 20, 9, 0, tzinfo=CHINA)

# --------------------------------------------------------------------------- realistic mail


@dataclass(frozen=True)
class CorpusMail:
    raw: bytes
    sender: str
    message_id: str
    row_id: str
    style: str  # how it was written: charset and MIME shape


def corpus_rows() -> list[dict]:
    """Every labelled row, the files taking turns, so any first few hundred span every trade."""
    files = [[json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
             for path in sorted(CORPUS_DIR.glob("*.jsonl"))]
    return [row for turn in itertools.zip_longest(*files) for row in turn if row is not None]


def corpus_mails(count: int, first: int = 0) -> list[CorpusMail]:
    """`count` complaint mails, one per sender, as Chinese mail clients write them.

    Traditional rows come in Big5; simplified rows take turns being QQ Mail's GBK labelled
    gb2312, GB18030, 163's UTF-8 multipart/alternative with an HTML part, and iPhone UTF-8
    with its signature. Past the corpus's end its rows come round again, from new senders.
    """
    rows = corpus_rows()
    return [complaint_mail(rows[index % len(rows)], index) for index in range(first, first + count)]


def complaint_mail(row: dict, index: int, hop: int = 0) -> CorpusMail:
    """The mail of corpus `row` from sender number `index`; `hop` changes only the Received line."""
    domain = DOMAINS[index % len(DOMAINS)]
    sender = f"kehu{index:05d}@{domain}"
    message_id = f"<{FIRST_DATE:%Y%m%d}{index:06d}.{row['id']}@{domain}>"
    if row.get("script") == "traditional":
        style = "big5"
    else:
        style = ("gbk-as-gb2312", "gb18030", "utf8-html", "utf8-iphone")[index % 4]
    body = row["body"] + ("\n\n发自我的iPhone" if style == "utf8-iphone" else "")
    charset, codec = _charset(style, f"{row['subject']}{row.get('name', '')}{body}")
    date = FIRST_DATE + timedelta(minutes=index)
    head = [
        f"Received: from smtp{hop + 1}.{domain} (unknown [10.{hop}.{index // 256 % 256}.{index % 256}])"
        f"\r\n\tby mx{hop + 1}.example.com (Postfix) with ESMTPS id {index:08X}{hop}"
        f"\r\n\tfor <{RECIPIENT}>; {format_datetime(date + timedelta(seconds=2 + hop))}",
        f"From: {_encoded(row.get('name') or '客户', charset, codec)} <{sender}>",
        f"To: {RECIPIENT}",
        f"Subject: {_encoded(row['subject'], charset, codec)}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    if style == "utf8-html":
        boundary = f"----=_Part_{index}_{hop}.1763600000000"
        head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        content = [f"--{boundary}", *_text_part("plain", body, charset, codec),
                   f"--{boundary}", *_text_part("html", _as_html(body), charset, codec),
                   f"--{boundary}--", ""]
    else:
        part = _text_part("plain", body, charset, codec)
        head.extend(part[:2])
        content = part[3:]
    raw = ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(content)).encode("ascii")
    return CorpusMail(raw, sender, message_id, row["id"], f"{style}/{charset}")


def _charset(style: str, text: str) -> tuple[str, str]:
    """(label, codec): the label a client writes and the codec it really used."""
    wanted = {"big5": ("big5", "big5hkscs"), "gbk-as-gb2312": ("gb2312", "gbk"),
              "gb18030": ("gb18030", "gb18030")}.get(style, ("utf-8", "utf-8"))
    try:
        text.encode(wanted[1])
    except UnicodeEncodeError:
        return ("gb18030", "gb18030") if style != "big5" else ("utf-8", "utf-8")
    return wanted


def _encoded(text: str, charset: str, codec: str) -> str:
    """RFC 2047 B-encoded words of at most 12 characters each, folded."""
    words = [f"=?{charset}?B?{base64.b64encode(text[i:i + 12].encode(codec)).decode()}?="
             for i in range(0, len(text), 12)]
    return "\r\n ".join(words)


def _text_part(subtype: str, text: str, charset: str, codec: str) -> list[str]:
    """A text part's headers and base64 body, as lines ([0] is its Content-Type)."""
    data = base64.encodebytes(text.replace("\n", "\r\n").encode(codec)).decode("ascii")
    return [f'Content-Type: text/{subtype}; charset="{charset}"',
            "Content-Transfer-Encoding: base64", "", *data.splitlines(), ""]


def _as_html(text: str) -> str:
    paragraphs = "".join(f"<div>{html.escape(line) or '<br>'}</div>" for line in text.split("\n"))
    return f'<html><head><meta charset="utf-8"></head><body>{paragraphs}</body></html>'


# --------------------------------------------------------------------------- servers


def _smtp_sink(connection) -> None:
    """An SMTP server in a process of its own; answers its port, then the count on request."""
    from servers import start_smtp

    server = start_smtp()
    connection.send(server.port)
    connection.recv()  # stop
    received = server.received
    connection.send((len(received), Counter(len(r.rcpt_tos) for r in received)))
    server.stop()


class SmtpSink:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self._connection, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_smtp_sink, args=(child,), daemon=True)
        self.process.start()
        self.port = self._connection.recv()

    def stop(self) -> int:
        self._connection.send("stop")
        count, _ = self._connection.recv()
        self.process.join(10)
        return count


# --------------------------------------------------------------------------- measuring


class StageClock:
    """CPU seconds (of the calling thread) and calls per stage, from wrapped functions."""

    def __init__(self, profile: bool = False) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.order: list[str] = []  # stages in the order they were wrapped: outer, then inner
        self.profiles: dict[int, cProfile.Profile] = {}
        self.profile = profile
        self._depth = threading.local()

    def wrap(self, owner, attribute: str, stage: str, outermost: bool = False) -> None:
        original = getattr(owner, attribute)
        self.order.append(stage)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            profiler = self._start_profile() if outermost and self.profile else None
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.cpu[stage] += time.thread_time() - cpu
                self.wall[stage] += time.perf_counter() - wall
                self.calls[stage] += 1
                if profiler is not None:
                    profiler.disable()

        setattr(owner, attribute, timed)

    def _start_profile(self) -> cProfile.Profile:
        # cProfile (3.11) profiles the thread that enables it: one profiler per thread.
        profiler = self.profiles.setdefault(threading.get_ident(), cProfile.Profile())
        profiler.enable()
        return profiler


def instrument(clock: StageClock) -> None:
    from worker import jobs
    from worker.cases import sending
    from worker.intake import service
    from worker.intake.poller import MailboxPoller
    from worker.intake.steps import STEPS

    clock.wrap(MailboxPoller, "_take_batch", "poll: fetch, store, flag", outermost=True)
    clock.wrap(MailboxPoller, "store_messages", "poll:   store (one transaction a batch)")
    clock.wrap(jobs, "process_raw_messages", "pipeline (whole job)", outermost=True)
    for step in STEPS:
        # A step that takes the batch at once is timed there (its `run` calls `run_many`).
        clock.wrap(step, "run_many" if hasattr(step, "run_many") else "run", f"pipeline:   step {step.name}")
    clock.wrap(service, "open_case", "pipeline:   open case (rows, letters)")
    clock.wrap(jobs, "send_outgoing", "sending (whole job)", outermost=True)
    clock.wrap(sending.SmtpConnection, "deliver", "sending:   SMTP dialogue")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_floor(raws: list[bytes], passes: int = 3) -> tuple[float, float, list]:
    """(wall, CPU) seconds to parse, normalise and segment every mail: the least intake can
    cost. The best of a few passes, so a busy neighbour on the machine skews it less. Also
    the parsed mails, for `measure_least_work`."""
    from classifier.text import tokens
    from worker.mail.normalize import normalize_text
    from worker.mail.parse import parse_message

    best_wall = best_cpu = float("inf")
    for _ in range(passes):
        wall, cpu = time.perf_counter(), time.process_time()
        parsed_mails = []
        for raw in raws:
            parsed = parse_message(raw)
            tokens(normalize_text(parsed.subject or ""))
            tokens(normalize_text(parsed.text))
            parsed_mails.append(parsed)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, parsed_mails


def measure_least_work(parsed_mails: list, classifier, messages: list[bytes], batch: int,
                       tmp: Path, passes: int = 3) -> dict[str, float]:
    """CPU seconds of what every case needs beyond the floor, each alone and at its cheapest,
    the best of a few passes: per mail, classifying it in poll-sized batches less its
    segmentation (which the floor holds) and extracting its fields; per message sent, handing
    it, already built, to an SMTP server with smtplib on one open connection; per commit, a
    one-row transaction of raw sqlite3 in WAL mode with synchronous=FULL (storing a batch,
    recording a sent mail). No intake that classifies, extracts, stores durably and answers
    every mail costs less than the floor plus these."""
    import smtplib
    import sqlite3

    from classifier.extract import extract_fields
    from classifier.text import tokens
    from worker.mail.normalize import normalize_text

    pairs = [(normalize_text(parsed.subject or ""), normalize_text(parsed.text))
             for parsed in parsed_mails]
    database = sqlite3.connect(tmp / "least-work.sqlite3", isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=FULL")
    database.execute("CREATE TABLE sent (id INTEGER PRIMARY KEY, note TEXT)")
    sink = SmtpSink()
    best = dict.fromkeys(("classify", "segment", "extract", "send", "commit"), float("inf"))

    def timed(name, work) -> None:
        cpu = time.process_time()
        work()
        best[name] = min(best[name], time.process_time() - cpu)

    try:
        client = smtplib.SMTP(sink.host, sink.port)
        for _ in range(passes):
            timed("classify", lambda: [classifier.predict_many(pairs[start : start + batch])
                                       for start in range(0, len(pairs), batch)])
            timed("segment", lambda: [(tokens(subject), tokens(body)) for subject, body in pairs])
            timed("extract", lambda: [extract_fields(p.subject or "", p.text, p.from_name or "")
                                      for p in parsed_mails])
            timed("send", lambda: [client.sendmail("bench@example.com", ["desk@example.com"], m)
                                   for m in messages])
            timed("commit", lambda: [database.execute("INSERT INTO sent (note) VALUES ('sent')")
                                     for _ in messages])
        client.quit()
    finally:
        sink.stop()
        database.close()
    return {"classify": (best["classify"] - best["segment"]) / len(pairs),
            "extract": best["extract"] / len(pairs), "send": best["send"] / len(messages),
            "commit": best["commit"] / len(messages)}


# --------------------------------------------------------------------------- the run


def run(count: int, profile_path: str | None, pin: bool, rate: float | None = None,
        threads: int | None = None) -> dict:
    from servers import start_imap

    imap, smtp = start_imap(), SmtpSink()
    pinned = _pin_to_one_core() if pin else None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
            return _run(Path(tmp), imap, smtp, count, profile_path, pinned, rate, threads)
    finally:
        imap.stop()
        if smtp.process.is_alive():
            smtp.process.kill()


def _pin_to_one_core() -> int | None:
    """This process (started after the servers) on the last core; the servers keep the rest."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    os.sched_setaffinity(0, {cores[-1]})
    return cores[-1]


def _run(tmp: Path, imap, smtp: SmtpSink, count: int, profile_path: str | None,
         pinned: int | None, rate: float | None, threads: int | None) -> dict:
    from sqlalchemy import func, select

    from models.cases import Case
    from models.mail import OutgoingMail, RawMessage
    from worker.app import App
    from worker.config import BrokerConfig, load_config
    from worker.mailer import build_message

    from harness import write_config

    os.environ["TEST_IMAP_PASSWORD"] = imap.password
    mails = corpus_mails(count)
    delivered_at: dict[str, float] = {}
    began = time.perf_counter()
    if rate is None:  # a backlog: everything is in the mailbox before the run starts
        for mail in mails:
            imap.deliver(mail.raw)
            delivered_at[mail.message_id] = time.time()
    delivery_s = time.perf_counter() - began

    began = time.perf_counter()
    threads = threads or BrokerConfig().threads  # the configuration's default unless told
    app = App(load_config(write_config(tmp, imap, smtp, threads=threads, idle=rate is not None)))
    app.db  # noqa: B018  (migrates the schema)
    app.classifier  # noqa: B018  (loads the model, jieba and OpenCC once per process)
    app.env  # noqa: B018
    startup_s = time.perf_counter() - began

    clock = StageClock(profile=bool(profile_path))
    instrument(clock)
    cpu_before = time.process_time()
    began, started_at = time.perf_counter(), time.time()
    if rate is None:
        stored = _run_once(app)
    else:
        stored = _run_paced(app, imap, mails, rate, delivered_at)
    run_s = time.perf_counter() - began
    run_cpu_s = time.process_time() - cpu_before
    sent = smtp.stop()

    with app.db.sessions() as session:
        cases = session.execute(select(Case.first_message_id, Case.created_at)).all()
        # sent_at is when its mail.send job started: the batch's first mail, ~50 ms early at most
        acknowledged = session.execute(
            select(Case.first_message_id, OutgoingMail.sent_at)
            .join(OutgoingMail, OutgoingMail.case_id == Case.id)
            .where(OutgoingMail.kind == "acknowledgement", OutgoingMail.status == "sent")).all()
        raw_status = dict(session.execute(
            select(RawMessage.status, func.count()).group_by(RawMessage.status)).all())
        outbox = dict(session.execute(
            select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status)).all())
        raws = list(session.scalars(select(RawMessage.raw).order_by(RawMessage.id)))
        sent_mails = session.scalars(select(OutgoingMail).where(OutgoingMail.status == "sent")).all()
    latencies = [created.timestamp() - delivered_at[message_id]
                 for message_id, created in cases if message_id in delivered_at]
    last_case_s = max((created.timestamp() for _, created in cases), default=started_at) - started_at
    floor_s, floor_cpu_s, parsed_mails = measure_floor(raws)
    batch = app.config.mailboxes[0].batch_size
    least = None
    if rate is None:  # the least-work line goes with the ratio, which a paced run does not have
        messages = [build_message(mail, app.config.smtp) for mail in sent_mails]
        least = measure_least_work(parsed_mails, app.classifier, messages, batch, tmp)
    if profile_path:
        _write_profile(clock, profile_path)
    return {
        "mails": count, "stored": stored, "cases": len(cases), "rate": rate, "raw_status": raw_status,
        "outbox": outbox, "smtp_received": sent, "delivery_s": delivery_s, "startup_s": startup_s,
        "run_s": run_s, "last_case_s": last_case_s, "run_cpu_s": run_cpu_s, "floor_s": floor_s,
        "floor_cpu_s": floor_cpu_s, "latencies": latencies, "least": least,
        "mails_per_case": len(sent_mails) / max(1, len(cases)), "batch": batch,
        "ack_latencies": [sent.timestamp() - delivered_at[message_id]
                          for message_id, sent in acknowledged if message_id in delivered_at],
        "clock": clock, "pinned": pinned, "imap": imap.kind, "threads": threads,
    }


def _run_once(app) -> int:
    """`triage run --once`: drain the mailbox, finish every job, return."""
    from worker.runner import Runner

    return Runner(app).run_once(timeout=1800)["stored"]


def _run_paced(app, imap, mails: list[CorpusMail], rate: float, delivered_at: dict[str, float]) -> int:
    """`triage run` with IDLE while mail arrives at `rate` a second; returns once every mail
    has its case and every mail due is sent."""
    from sqlalchemy import func, select

    from models.cases import Case
    from worker.runner import Runner

    runner = Runner(app)
    worker = threading.Thread(target=runner.run_forever, name="bench-runner", daemon=True)
    worker.start()
    time.sleep(1.0)  # the poller connects and enters IDLE
    first = time.perf_counter()
    for number, mail in enumerate(mails):
        time.sleep(max(0.0, first + number / rate - time.perf_counter()))
        imap.deliver(mail.raw)
        delivered_at[mail.message_id] = time.time()
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        with app.db.sessions() as session:
            if session.scalar(select(func.count()).select_from(Case)) >= len(mails):
                break
        time.sleep(0.2)
    runner.drain(timeout=600)
    runner.stop.set()
    worker.join(60)
    return len(mails)


def _write_profile(clock: StageClock, path: str) -> None:
    profiles = list(clock.profiles.values())
    if not profiles:
        return
    stats = pstats.Stats(profiles[0])
    for profiler in profiles[1:]:
        stats.add(profiler)
    stats.dump_stats(path)


def report(figures: dict) -> Iterator[str]:
    count, run_s, floor_s = figures["mails"], figures["run_s"], figures["floor_s"]
    latencies = figures["latencies"]
    rate, floor_rate = count / run_s, count / floor_s
    where = f"pinned to core {figures['pinned']}" if figures["pinned"] is not None else "not pinned"
    arrival = (f"arriving at {figures['rate']:g} mails/s, `triage run` with IDLE" if figures["rate"]
               else "all in the mailbox before `triage run --once`")
    yield (f"intake benchmark: {count} mails {arrival}; {figures['imap']} IMAP, SQLite, in-process "
           f"broker, {figures['threads']} worker threads, {where} ({os.cpu_count()} cores on the "
           f"machine)")
    delivered = "" if figures["rate"] else f"delivered in {figures['delivery_s']:.2f} s; "
    yield f"  {delivered}start-up (schema, model) {figures['startup_s']:.2f} s, not counted below"
    run_cpu_s, floor_cpu_s = figures["run_cpu_s"], figures["floor_cpu_s"]
    yield (f"  end to end   {run_s:7.2f} s  {rate:7.1f} mails/s   "
           f"(CPU of this process {run_cpu_s:.2f} s, {run_cpu_s / count * 1000:.2f} ms/mail)")
    yield (f"  the last case was opened after {figures['last_case_s']:.2f} s "
           f"({count / figures['last_case_s']:.1f} mails/s to cases; the rest of the run is sending)")
    if latencies:
        yield (f"  delivery → case   p50 {percentile(latencies, 0.5):6.2f} s   "
               f"p95 {percentile(latencies, 0.95):6.2f} s   max {max(latencies):6.2f} s")
    if acks := figures["ack_latencies"]:
        yield (f"  delivery → acknowledgement sent   p50 {percentile(acks, 0.5):6.2f} s   "
               f"p95 {percentile(acks, 0.95):6.2f} s   max {max(acks):6.2f} s")
    yield (f"  floor (parse + normalise + segment, same mails) {floor_s:6.2f} s  "
           f"{floor_rate:7.1f} mails/s   (CPU {floor_cpu_s / count * 1000:.2f} ms/mail)")
    if not figures["rate"]:  # paced, the run lasts as long as the arrivals: no ratio to show
        yield (f"  ratio end to end / floor: {run_s / floor_s:.1f}× wall, "
               f"{run_cpu_s / floor_cpu_s:.1f}× CPU")
        floor_ms = floor_cpu_s / count * 1000
        least = {name: seconds * 1000 for name, seconds in figures["least"].items()}
        per_case = figures["mails_per_case"]
        commits = per_case + 1 / figures["batch"]  # one a mail sent, one a stored batch
        least_ms = (floor_ms + least["classify"] + least["extract"] + per_case * least["send"]
                    + commits * least["commit"])
        yield (f"  least CPU a mail can cost: floor {floor_ms:.2f} + classification beyond "
               f"segmentation {least['classify']:.2f} + extraction {least['extract']:.2f} + "
               f"{per_case:.2f} mails sent × smtplib alone {least['send']:.2f} + {commits:.2f} "
               f"durable commits × {least['commit']:.2f} = {least_ms:.2f} ms, "
               f"{least_ms / floor_ms:.2f}× the floor (nothing else: no IMAP, no MIME, no case rows)")
        to_cases_s = figures["last_case_s"]
        yield (f"  target ≥ 200 mails/s and ≤ 2× the floor: end to end "
               f"{'met' if rate >= 200 and run_s <= 2 * floor_s else 'missed'}, to cases "
               f"{'met' if count / to_cases_s >= 200 and to_cases_s <= 2 * floor_s else 'missed'}"
               f" ({count / to_cases_s:.0f} mails/s, {to_cases_s / floor_s:.1f}× the floor)")
    yield (f"  cases {figures['cases']}, raw messages {figures['raw_status']}, "
           f"outbox {figures['outbox']}, SMTP received {figures['smtp_received']}")
    clock: StageClock = figures["clock"]
    yield "  CPU by stage (thread CPU seconds; nested stages indented):"
    for stage in [s for s in clock.order if s in clock.cpu]:
        per_mail = clock.cpu[stage] / count * 1000
        yield (f"    {stage:44s} {clock.cpu[stage]:7.2f} s  {per_mail:6.2f} ms/mail  "
               f"(wall {clock.wall[stage]:6.2f} s, {clock.calls[stage]} calls)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000, help="how many mails (default 2000)")
    parser.add_argument("--profile", metavar="FILE", help="write merged cProfile stats here")
    parser.add_argument("--top", type=int, default=25, help="profile entries to print")
    parser.add_argument("--rate", type=float, metavar="R",
                        help="deliver R mails a second while `triage run` (IDLE) works, instead of "
                             "a backlog for `run --once`: latency under a steady load")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="worker threads of the in-process broker (default: the configuration's, 2)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin this process to one core")
    args = parser.parse_args(argv)
    # One BLAS / OpenMP thread, as bench/classify.py; NumPy is not imported yet (the worker's
    # modules are imported inside the functions below).
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    logging.basicConfig(level=logging.WARNING)
    figures = run(args.mails, args.profile, args.pin, args.rate, args.threads)
    for line in report(figures):
        print(line)
    if args.profile:
        print(f"\nprofile (poller and worker threads, by own time) → {args.profile}")
        stats = pstats.Stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
