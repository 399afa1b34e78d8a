"""`triage db`: the database schema."""

import click

from models.db import Database
from worker.config import load_config


@click.group("db")
def group() -> None:
    """Create or upgrade the database schema."""


@group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target Alembic revision.")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the migrations (run once after each upgrade of the software)."""
    config = load_config(ctx.find_root().params["config_path"])
    Database(config.database.url_with_password()).upgrade(revision)
    click.echo(f"database at {revision}")
