"""`triage model`: train, evaluate, list, promote and roll back classifier models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from classifier.options import CANDIDATES, DEFAULT_SEED, HOLDOUT_FRACTION
from models.base import utcnow
from worker.classify_files import BadInput, read_labelled_rows
from worker.cli.classify import InputError, load_model
from worker.cli.output import print_rows
from worker.models_registry import active_model
from worker.retraining import correction_rows

if TYPE_CHECKING:
    from worker.models_admin import Promotion

# scikit-learn takes seconds to import: the commands import the model code when they run,
# so `triage --help` and the other commands do not wait for it.

LIST_COLUMNS = ("version", "active", "promoted", "rows", "holdout F1")
SHORT_HEADS = {"category": "cat", "department": "dept", "severity": "sev"}
DATA_HELP = ".jsonl / .csv files (or directories of them) with body, optional subject and labels"


def data_option(command):
    """`--data PATH...`: the option takes one path, the paths after it come as arguments."""
    command = click.argument("more_data", nargs=-1, metavar="[PATH]...",
                             type=click.Path(exists=True))(command)
    return click.option("--data", "data", multiple=True, type=click.Path(exists=True),
                        help=DATA_HELP)(command)


def read_data(data: tuple[str, ...], more_data: tuple[str, ...]) -> list[dict]:
    try:
        return read_labelled_rows([Path(path) for path in (*data, *more_data)])
    except BadInput as error:
        raise InputError(str(error)) from None


@click.group("model")
def group() -> None:
    """Train, evaluate, list, promote and roll back classifier models."""


@group.command("train")
@data_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where the new version goes (default: <storage>/models).")
@click.option("--from-corrections", is_flag=True,
              help="Add the admins' and departments' label corrections from the database.")
@click.option("--estimator", type=click.Choice(["auto", *CANDIDATES]), default="auto",
              show_default=True,
              help="auto: per head the better of svc and logreg by cross-validation; "
                   "logreg from 10,000 rows on.")
@click.option("--holdout", type=click.FloatRange(0.0, 0.5), default=HOLDOUT_FRACTION, show_default=True)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.pass_obj
def train_command(lazy_app, data, more_data, out_dir, from_corrections, estimator, holdout,
                  seed) -> None:
    """Train a new model version on labelled rows; it is saved but not active."""
    from classifier import store
    from classifier.evaluate import format_report
    from classifier.train import train
    from worker.models_admin import record_version

    if not (data or more_data or from_corrections):
        raise click.UsageError("give --data PATH..., or --from-corrections")
    rows = read_data(data, more_data)
    app = lazy_app.get()
    corrections = []
    if from_corrections:
        with app.db.sessions() as session:
            corrections = correction_rows(session)
    try:
        result = train(rows + corrections, holdout, seed, estimator,
                       thresholds=app.policy.thresholds.model_dump())
    except ValueError as error:
        raise InputError(f"cannot train: {error}") from None
    data_meta = result.meta["data"]
    click.echo(f"trained on {data_meta['rows']} rows ({len(corrections)} from corrections): "
               f"{data_meta['train_rows']} fitted, {data_meta['holdout_rows']} held out; "
               f"heads: {', '.join(result.model['heads'])}")
    click.echo(format_report(result.metrics))
    path = store.save(result.model, result.meta, Path(out_dir) if out_dir else app.storage_dir / "models")
    record_version(app.db, path, result.meta, utcnow())
    click.echo(f"saved {path.name} in {path} (not active: triage model promote {path.name})")


@group.command("evaluate")
@data_option
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="A model version directory (default: the active model).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.pass_obj
def evaluate_command(lazy_app, data, more_data, model_dir, output_format) -> None:
    """Accuracy and macro-F1 per head of a model on labelled rows."""
    from classifier.evaluate import evaluate
    from worker.models_admin import summarise

    if not (data or more_data):
        raise click.UsageError("give --data PATH...")
    rows = read_data(data, more_data)
    app = lazy_app.get()
    model = load_model(model_dir or active_model(app.db)[1])
    summary = summarise(evaluate(model, rows, app.policy.thresholds.model_dump()))
    if not summary["heads"]:
        raise InputError(f"no rows labelled for the model's heads ({', '.join(model.heads)})")
    if output_format == "json":
        click.echo(json.dumps({"model": model.meta.get("version"), **summary}, ensure_ascii=False))
        return
    rows = [{"head": head, "n": m["n"], "accuracy": f"{m['accuracy']:.3f}",
             "macro-F1": f"{m['macro_f1']:.3f}"} for head, m in summary["heads"].items()]
    print_rows(rows, ("head", "n", "accuracy", "macro-F1"), "table",
               f"{model.meta.get('version')} on {summary['rows']} rows")


@group.command("list")
@click.option("--format", "output_format", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)
@click.pass_obj
def list_command(lazy_app, output_format) -> None:
    """Every trained version, and the shipped model; which one is active."""
    from worker.models_admin import version_listing

    app = lazy_app.get()
    rows = version_listing(app.db)
    if output_format == "jsonl":
        print_rows(rows, (), "jsonl", "")
        return
    shown = [{"version": row["version"], "active": "*" if row["active"] else "",
              "promoted": row["promoted_at"], "rows": row["data_rows"],
              "holdout F1": " ".join(f"{SHORT_HEADS.get(head, head)}={f1:.2f}"
                                     for head, f1 in row["macro_f1"].items())}
             for row in rows]
    print_rows(shown, LIST_COLUMNS, "table", f"{len(rows) - 1} trained version(s)",
               keep_whole="version")


@group.command("promote")
@click.argument("version")
@click.option("--force", is_flag=True, help="Promote even when it is worse than the active model.")
@click.pass_obj
def promote_command(lazy_app, version, force) -> None:
    """Make VERSION the model in force; refused when it is worse than the active one on the
    frozen holdout of the shipped corpus plus recent corrections."""
    from worker.models_admin import ModelAdminError, promote

    app = lazy_app.get()
    try:
        outcome = promote(app.db, version, utcnow(), force=force)
    except ModelAdminError as error:
        raise click.ClickException(str(error)) from None
    click.echo(render_promotion(outcome))
    if not outcome.promoted:
        worse = ", ".join(outcome.comparison.worse_heads)
        raise click.ClickException(f"refused: {version} is worse than {outcome.previous} on {worse}; "
                                   "--force promotes it anyway")


def render_promotion(outcome: Promotion) -> str:
    lines = []
    if outcome.comparison is not None:
        c = outcome.comparison
        lines.append(f"macro-F1 on {c.holdout_rows} frozen holdout rows + {c.correction_rows} "
                     f"recent corrections: active {outcome.previous} vs {outcome.version}")
        for score in c.heads:
            candidate = "missing" if score.candidate is None else f"{score.candidate:.3f}"
            lines.append(f"  {score.head:<11} {score.active:.3f} -> {candidate}"
                         f"{'  worse' if score.worse else ''}")
    if outcome.promoted:
        lines.append(f"promoted {outcome.version} (was {outcome.previous}); "
                     "running workers switch within seconds")
    return "\n".join(lines)


@group.command("rollback")
@click.pass_obj
def rollback_command(lazy_app) -> None:
    """Reactivate the version promoted before the active one (or the shipped model)."""
    from worker.models_admin import ModelAdminError, rollback

    app = lazy_app.get()
    try:
        previous, current = rollback(app.db)
    except ModelAdminError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"rolled back from {previous} to {current}")
