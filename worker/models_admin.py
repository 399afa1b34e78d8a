"""Model versions for admins: record a trained version, decide a promotion, roll back.

A version's files live under the storage dir (`classifier.store`, immutable);
the `ModelVersion` rows say which one is in force, at most one at a time, and
with no active row the shipped model is. Running workers notice a change within
`models_registry.CHECK_EVERY_SECONDS`.

A promotion is refused when the candidate is worse than the model in force —
a head's macro-F1 lower by more than `TOLERANCE`, or a head missing — on the
promotion set: the frozen holdout of the shipped corpus plus the admins' and
departments' corrections of the last `RECENT_CORRECTIONS_DAYS`.

Rollback reactivates the version promoted before the active one. The version
rolled back loses its ``promoted_at``, so a second rollback goes one further
back, and past the first promoted version to the shipped model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

import classifier
from classifier import dataset, store
from classifier.evaluate import evaluate
from classifier.options import HOLDOUT_FRACTION  # the shipped model was trained with it
from classifier.predict import Classifier
from models.model_versions import ModelVersion
from worker.models_registry import SHIPPED_MODEL_DIR, active_model, shipped_version
from worker.retraining import correction_rows

SHIPPED_CORPUS_DIR = Path(classifier.__file__).resolve().parent / "data" / "corpus"
RECENT_CORRECTIONS_DAYS = 90
# Retraining on the same data moves macro-F1 by a few thousandths; that is not "worse".
TOLERANCE = 0.005


class ModelAdminError(Exception):
    """A promotion or rollback that cannot be done; the message says why."""


def summarise(result: dict) -> dict:
    """Rows, and n / accuracy / macro-F1 per head, of an evaluation result."""
    return {
        "rows": result.get("rows", 0),
        "heads": {
            head: {"n": m["n"], "accuracy": round(m["accuracy"], 4),
                   "macro_f1": round(m["macro_f1"], 4)}
            for head, m in result.get("heads", {}).items()
        },
    }


def record_version(db, path: Path, meta: dict, now: datetime) -> ModelVersion:
    """The database row of a version just saved by `classifier.store.save`; not active."""
    row = ModelVersion(
        version=Path(path).name, path=str(Path(path).resolve()), data_sha256=meta["data"]["sha256"],
        metrics={"data_rows": meta["data"]["rows"], "holdout": summarise(meta.get("metrics") or {})},
        labels=meta["labels"], active=False, created_at=now,
    )
    with db.transaction() as session:
        session.add(row)
    return row


def version_listing(db) -> list[dict]:
    """The shipped model, then every trained version: which is active, rows, holdout macro-F1."""
    versions = list_versions(db)
    return [_shipped_entry(active=not any(v.active for v in versions))] + [
        {"version": v.version, "active": v.active,
         "promoted_at": v.promoted_at.isoformat(timespec="seconds") if v.promoted_at else None,
         "created_at": v.created_at.isoformat(timespec="seconds"),
         "data_rows": v.metrics.get("data_rows"),
         "macro_f1": {head: m["macro_f1"]
                      for head, m in v.metrics.get("holdout", {}).get("heads", {}).items()}}
        for v in versions
    ]


def _shipped_entry(active: bool) -> dict:
    meta_file = SHIPPED_MODEL_DIR / store.META_FILE
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    return {
        "version": f"shipped:{meta.get('version', 'missing')}", "active": active,
        "promoted_at": None, "created_at": None, "data_rows": meta.get("data", {}).get("rows"),
        "macro_f1": {head: round(m["macro_f1"], 4)
                     for head, m in meta.get("metrics", {}).get("heads", {}).items()},
    }


def list_versions(db) -> list[ModelVersion]:
    with db.sessions() as session:
        return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at,
                                                                  ModelVersion.id)))


@dataclass(frozen=True)
class HeadScore:
    head: str
    active: float  # macro-F1 of the model in force
    candidate: float | None  # None: the candidate has no such head

    @property
    def worse(self) -> bool:
        return self.candidate is None or self.candidate < self.active - TOLERANCE


@dataclass(frozen=True)
class Comparison:
    holdout_rows: int
    correction_rows: int
    heads: tuple[HeadScore, ...]

    @property
    def worse_heads(self) -> list[str]:
        return [score.head for score in self.heads if score.worse]


def promotion_rows(db, now: datetime) -> tuple[list[dict], list[dict]]:
    """The frozen holdout of the shipped corpus, and the recent corrections as rows."""
    holdout = [row for row in dataset.read_rows([SHIPPED_CORPUS_DIR])
               if dataset.is_holdout(dataset.row_id(row), HOLDOUT_FRACTION)]
    with db.sessions() as session:
        recent = correction_rows(session, since=now - timedelta(days=RECENT_CORRECTIONS_DAYS))
    return holdout, recent


def compare(candidate: Classifier, active: Classifier, holdout: list[dict],
            corrections: list[dict]) -> Comparison:
    """Macro-F1 per head of the model in force, and of the candidate, on the same rows."""
    rows = holdout + corrections
    candidate_heads = evaluate(candidate, rows)["heads"]
    scores = tuple(
        HeadScore(head, m["macro_f1"], candidate_heads.get(head, {}).get("macro_f1"))
        for head, m in evaluate(active, rows)["heads"].items()
    )
    return Comparison(len(holdout), len(corrections), scores)


@dataclass(frozen=True)
class Promotion:
    version: str
    promoted: bool
    previous: str  # the version in force before
    comparison: Comparison | None  # None when forced


def promote(db, version: str, now: datetime, force: bool = False) -> Promotion:
    """Make `version` the one in force, unless it is worse than the active model (or `force`)."""
    row = _row(db, version)
    if row.active:
        raise ModelAdminError(f"{version} is already active")
    previous, previous_path = active_model(db)
    candidate = _loaded(row)  # also when forced
    comparison = None
    if not force:
        comparison = compare(candidate, Classifier.load(previous_path), *promotion_rows(db, now))
        if comparison.worse_heads:
            return Promotion(version, False, previous, comparison)
    with db.transaction() as session:
        session.execute(update(ModelVersion).where(ModelVersion.active.is_(True))
                        .values(active=False))
        session.execute(update(ModelVersion).where(ModelVersion.id == row.id)
                        .values(active=True, promoted_at=now))
    return Promotion(version, True, previous, comparison)


def rollback(db) -> tuple[str, str]:
    """Back to the version promoted before the active one, or the shipped model: (from, to)."""
    with db.transaction() as session:
        current = session.scalar(select(ModelVersion).where(ModelVersion.active.is_(True)))
        if current is None:
            raise ModelAdminError("the shipped model is in force: nothing to roll back")
        current.active, current.promoted_at = False, None
        previous = session.scalar(
            select(ModelVersion)
            .where(ModelVersion.id != current.id, ModelVersion.promoted_at.is_not(None))
            .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc()).limit(1))
        if previous is None:
            return current.version, f"shipped:{shipped_version()}"
        _loaded(previous, store.load)
        previous.active = True
        return current.version, previous.version


def _row(db, version: str) -> ModelVersion:
    with db.sessions() as session:
        row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        known = ", ".join(v.version for v in list_versions(db)) or "none; train one first"
        raise ModelAdminError(f"no model version {version!r} (known: {known})")
    return row


def _loaded(row: ModelVersion, load=Classifier.load):
    """``load(row.path)``; whatever stops it (a missing file, a bad hash, an untrusted type)
    stops the switch, so a broken model never reaches the workers."""
    try:
        return load(row.path)
    except Exception as error:
        raise ModelAdminError(f"model {row.version} at {row.path} cannot be loaded: {error}") from None
