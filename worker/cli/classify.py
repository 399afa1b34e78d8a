"""`triage classify`: labels, confidence, candidates and fields of mails and message files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from classifier.extract import extract_fields
from worker.classify_files import MESSAGE_SUFFIXES, BadInput, message_json, read_messages
from worker.models_registry import active_model

if TYPE_CHECKING:  # scikit-learn loads only when a command classifies
    from classifier.predict import Classifier


class InputError(click.ClickException):
    """Bad input: one line naming the file (and row), exit code 2."""

    exit_code = 2


@click.command("classify")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="A model version directory (default: the active model).")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...",
                type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def classify(lazy_app, model_dir: str | None, paths: tuple[str, ...]) -> None:
    """Classify .eml files, or .jsonl / .csv files with subject and body per row: one JSON object
    per message with kind, category, department, severity, confidence, candidates and fields."""
    messages = read_all([Path(path) for path in paths])
    app = lazy_app.get()
    model = load_model(model_dir or active_model(app.db)[1])
    predictions = model.predict_many([(m.subject, m.body) for m in messages],
                                     app.policy.thresholds.model_dump())
    for message, prediction in zip(messages, predictions, strict=True):
        fields = extract_fields(message.subject, message.body, message.display_name)
        click.echo(json.dumps(message_json(message, prediction, fields), ensure_ascii=False))


def read_all(paths: list[Path]) -> list:
    """Every message of every file, read before anything is printed."""
    messages = []
    for path in paths:
        if path.suffix.lower() not in MESSAGE_SUFFIXES:
            raise InputError(f"{path}: expected one of {', '.join(MESSAGE_SUFFIXES)}")
        try:
            messages += read_messages(path)
        except BadInput as error:
            raise InputError(str(error)) from None
    return messages


def load_model(model_dir: str | Path) -> Classifier:
    from classifier.predict import Classifier

    try:
        return Classifier.load(model_dir)
    except Exception as error:  # a missing file, a bad hash, an untrusted type: one line
        raise InputError(f"{model_dir}: not a usable model: {error}") from None
