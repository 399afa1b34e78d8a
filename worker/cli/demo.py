"""`triage demo`: the whole flow on embedded servers, in under a minute, with nothing to set up."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from worker.app import App
from worker.config import load_config
from worker.demo import report
from worker.demo.mails import load_mailbox
from worker.demo.scenario import Scenario
from worker.demo.stack import demo_config_text, label_by_outbox, start_servers
from worker.demo.trial import terminate_gracefully

DEFAULT_DIR = Path("var/demo")
MARKER = ".triage-demo"


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_DIR, show_default=True,
              help="Where the demo keeps its database, storage and sent mail (emptied first).")
@click.pass_context
def demo(ctx: click.Context, directory: Path) -> None:
    """Run the whole flow on an embedded mailbox: ~30 mails in, cases, answers, reminders."""
    verbose = bool(ctx.find_root().params.get("verbose"))
    console = Console(width=None if Console().is_terminal else 120)
    began = time.monotonic()
    _empty(directory)
    sent_dir = directory / "sent"
    with _log_to(directory / "worker.log", verbose), terminate_gracefully():
        servers = None
        try:
            with _steps(console) as step:
                servers = step("Starting the demo mail servers (pymap IMAP, aiosmtpd SMTP)",
                               lambda: start_servers(directory, sent_dir),
                               lambda s: f"IMAP 127.0.0.1:{s.imap.port}, SMTP 127.0.0.1:{s.smtp.port}")
                scenario = _scenario(directory, servers)
                _play(step, scenario)
            _print_report(console, scenario, directory, sent_dir, time.monotonic() - began)
        finally:
            if servers is not None:
                servers.stop()


def _empty(directory: Path) -> None:
    """A clean demo folder each time, but never a folder the demo did not make."""
    marker = directory / MARKER
    if directory.exists() and any(directory.iterdir()):
        if not marker.is_file():
            raise click.UsageError(f"{directory} is not empty and not a demo folder: choose --dir")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    marker.write_text("made by `triage demo`, which empties this folder each time it runs\n")


def _scenario(directory: Path, servers) -> Scenario:
    config_path = directory / "triage.toml"
    config_path.write_text(demo_config_text(directory, servers), encoding="utf-8")
    app = App(load_config(config_path))
    servers.smtp.handler.label = label_by_outbox(app.db)
    return Scenario(app, servers, load_mailbox())


def _play(step, scenario: Scenario) -> None:
    zone = scenario.app.policy.calendar.zone
    step("Filling the demo mailbox", scenario.fill_mailbox,
         lambda count: f"{count} mails in complaints@ (customers, an out-of-office reply, a bounce)")
    step("Running the worker until every mail is handled", lambda: _run(scenario),
         lambda tally: f"{tally['cases']} cases opened, {tally['ignored']} mails ignored, "
                       f"{tally['sent']} mails sent")
    step("A department answers a case by replying to its forward", lambda: _answer(scenario), str)
    step("A customer adds information, the case number in the subject",
         lambda: _add_information(scenario), str)
    step("Moving the clock on (triage sweep --at)", scenario.move_clock,
         lambda clock: "; ".join(
             f"{c.at.astimezone(zone):%m-%d %H:%M} {_count(c.reminders, 'reminder')}, "
             f"{_count(c.escalations, 'escalation')}" for c in clock) or "no deadline pending")


def _run(scenario: Scenario) -> dict:
    scenario.run_worker()
    return scenario.tally()


def _answer(scenario: Scenario) -> str:
    number = scenario.department_answers()
    scenario.run_worker()
    reply = scenario.sent_for_case(number, "reply")
    outcome = scenario.last_mail_outcome()
    return f"{outcome}; reply to the customer: {reply.path.name}" if reply else outcome


def _add_information(scenario: Scenario) -> str:
    scenario.customer_adds_information()
    scenario.run_worker()
    return scenario.last_mail_outcome()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@contextmanager
def _steps(console: Console):
    """Runs named steps under a progress bar; each finished step leaves a line saying what it did."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("demo", total=6)

        def step(description: str, action: Callable, outcome: Callable[[object], str]):
            progress.update(task, description=description)
            result = action()
            progress.advance(task)
            progress.console.print(f"[green]✓[/green] {description}: {outcome(result)}")
            return result

        yield step


def _print_report(console: Console, scenario: Scenario, directory: Path, sent_dir: Path,
                  seconds: float) -> None:
    app, sent = scenario.app, scenario.servers.smtp.sent
    console.print()
    console.print(report.cases_table(app))
    for kind, title in (("acknowledgement", "the acknowledgement, as the customer read it"),
                        ("forward", "the forward, as the department read it")):
        mail = scenario.sent_for_case(scenario.answered_case, kind)
        if mail is not None:
            console.print(report.mail_panel(mail, title))
    console.print(report.ignored_table(app))
    console.print(f"{len(sent)} mails sent: {report.sent_summary(sent)}")
    console.print(report.next_steps(directory, sent_dir, scenario.answered_case))
    console.print(f"Demo finished in {seconds:.0f} s.")


@contextmanager
def _log_to(path: Path, verbose: bool):
    """The worker's log goes to a file; the terminal shows the demo's progress."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler, *(handlers if verbose else [])]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        yield
    finally:
        root.handlers = handlers
        root.setLevel(level)
        handler.close()
