"""The `triage` command: one group, a module per area of work."""

from __future__ import annotations

import logging
import sys

import click

from worker.app import App
from worker.config import ConfigError, load_config


class _TriageGroup(click.Group):
    """Turns configuration and policy errors into one line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)


@click.group(cls=_TriageGroup)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="TOML configuration file (default: $TRIAGE_CONFIG, else the embedded demo setup).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def triage(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """complaint-triage: turns a complaint mailbox (投诉邮箱) into handled cases."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _LazyApp(config_path)


class _LazyApp:
    """The App, built on first use so that `--help` and `policy check` need no database."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._app: App | None = None

    def get(self) -> App:
        if self._app is None:
            self._app = App(load_config(self.config_path))
        return self._app


def _register() -> None:
    from worker.cli import cases, classify, db, mail, mailboxes, model, policy, retention, run

    for module in (db, policy, cases, mail, mailboxes, retention, model):
        triage.add_command(module.group)
    triage.add_command(classify.classify)
    triage.add_command(run.run)
    triage.add_command(run.sweep)
    from worker.cli import demo as demo_cli
    triage.add_command(demo_cli.demo)
    from worker.cli import stats as stats_cli
    triage.add_command(stats_cli.stats)


_register()


def main() -> None:
    triage(prog_name="triage")
