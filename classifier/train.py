"""Training: rows in, a fitted `Classifier` and its held-out metrics out.

    result = train(read_rows(["classifier/data/corpus"]))
    store.save(result.model, result.meta, "models")

or ``python -m classifier.train classifier/data/corpus --models-dir models``.

Heads are trained for the label columns the rows have (with at least two
values), with whatever labels they hold. The holdout is the frozen one of
`dataset.is_holdout` (by row id); the model is fitted on the rest and
evaluated on it, through the scoring the worker uses (`Classifier.predict_vectors`,
behind `predict_many`), severity signals included.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import jieba
import numpy as np
import scipy
import sklearn
import skops
from sklearn.utils.parallel import Parallel, delayed

from classifier import dataset, features, heads, metrics, store
from classifier.options import DEFAULT_SEED, HOLDOUT_FRACTION
from classifier.predict import DEFAULT_THRESHOLDS, Classifier
from classifier.scoring import transform

# Below this many rows, starting worker processes costs more than they save.
PARALLEL_ROWS = 10_000


@dataclass
class TrainResult:
    classifier: Classifier
    model: dict  # what store.save writes: the vectoriser and the heads (sklearn only)
    meta: dict  # labels, choices, library versions, data hash, metrics, thresholds
    metrics: dict  # held-out metrics (empty when there is no holdout)
    train_ids: list[str]
    holdout_ids: list[str]


def train(
    rows: list[dict],
    holdout_fraction: float = HOLDOUT_FRACTION,
    seed: int = DEFAULT_SEED,
    model: str = "auto",
    thresholds: dict[str, float] | None = None,
    subject_weight: float = features.SUBJECT_WEIGHT,
    n_jobs: int | None = None,
) -> TrainResult:
    """Fit the vectoriser and one model per present label column.

    ``model`` is ``"auto"`` (per head, the better of LinearSVC+calibration and
    LogisticRegression by cross-validated macro-F1 on the training part; see
    `heads.choose`), ``"svc"`` or ``"logreg"``. ``n_jobs`` processes (joblib's
    meaning) tokenise, fit the vectoriser's blocks and fit the heads; by default
    every core from ``PARALLEL_ROWS`` rows on, one below.
    """
    started = time.perf_counter()
    rows = [row for row in rows if (row.get("subject") or row.get("body"))]
    head_names = [h for h in heads.HEADS if h in dataset.label_columns(rows)]
    if not head_names:
        raise ValueError("no label column with two or more values in the training rows")
    if n_jobs is None:
        n_jobs = -1 if len(rows) >= PARALLEL_ROWS else 1
    ids = [dataset.row_id(row) for row in rows]
    held = np.array([dataset.is_holdout(i, holdout_fraction) for i in ids], dtype=bool)
    pairs = [(row.get("subject") or "", row.get("body") or "") for row in rows]
    docs = features.documents(pairs, n_jobs)
    vectorizer, X = features.fit_vectorizer(docs[~held], n_jobs, subject_weight=subject_weight)
    fitting = [row for row, h in zip(rows, held, strict=True) if not h]
    candidates = heads.CANDIDATES if model == "auto" else (model,)
    fitted, choices = _fit_heads(X, fitting, head_names, candidates, seed, n_jobs)

    bundle = {"vectorizer": vectorizer, "heads": fitted}
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    meta = {
        "labels": {head: [str(c) for c in m.classes_] for head, m in fitted.items()},
        "models": choices,
        "thresholds": {head: limits[head] for head in fitted},
        "features": {
            "subject_weight": subject_weight,
            "char_ngrams": list(features.CHAR_NGRAMS),
            "cue_weight": features.CUE_WEIGHT,
            "cues": sorted(features.CUES),
            "n_features": int(X.shape[1]),
        },
        "data": _describe_data(rows, held, holdout_fraction),
        "seed": seed,
        "versions": library_versions(),
    }
    classifier = Classifier(bundle, meta)
    holdout_rows = [row for row, h in zip(rows, held, strict=True) if h]
    held_metrics = {}
    if holdout_rows:
        holdout_pairs = [pair for pair, h in zip(pairs, held, strict=True) if h]
        X_holdout = transform(vectorizer, docs[held])
        predictions = classifier.predict_vectors(holdout_pairs, X_holdout)
        held_metrics = metrics.evaluate(holdout_rows, predictions, classifier.thresholds)
    meta["metrics"] = held_metrics
    meta["train_seconds"] = round(time.perf_counter() - started, 2)
    return TrainResult(
        classifier=classifier,
        model=bundle,
        meta=meta,
        metrics=held_metrics,
        train_ids=[i for i, h in zip(ids, held, strict=True) if not h],
        holdout_ids=[i for i, h in zip(ids, held, strict=True) if h],
    )


def _fit_heads(X, rows, head_names, candidates, seed, n_jobs) -> tuple[dict, dict]:
    """Each head with two or more labels among `rows` (the rows of `X`), fitted on its
    labelled rows, the heads side by side in ``n_jobs`` processes; and the choices."""
    work = {}
    for head in head_names:
        mask = np.array([bool(row.get(head)) for row in rows])
        labels = [str(row[head]) for row, keep in zip(rows, mask, strict=True) if keep]
        if len(set(labels)) >= 2:
            work[head] = (mask, labels)
    results = Parallel(n_jobs=n_jobs)(
        delayed(heads.fit_best)(X[mask], labels, candidates, seed) for mask, labels in work.values()
    )
    fitted = {head: estimator for head, (estimator, _) in zip(work, results, strict=True)}
    choices = {head: choice for head, (_, choice) in zip(work, results, strict=True)}
    return fitted, choices


def _describe_data(rows: list[dict], held: np.ndarray, holdout_fraction: float) -> dict:
    return {
        "sha256": dataset.fingerprint(rows),
        "rows": len(rows),
        "train_rows": int((~held).sum()),
        "holdout_rows": int(held.sum()),
        "holdout": f"sha256(id) < {holdout_fraction} of 2**64 (dataset.is_holdout)",
        "holdout_by_category": dict(
            Counter(str(row.get("category")) for row, h in zip(rows, held, strict=True) if h)
        ),
    }


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "jieba": jieba.__version__,
        "skops": skops.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the complaint classifier.")
    parser.add_argument("data", nargs="+", help=".jsonl / .csv files or directories of them")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--holdout", type=float, default=HOLDOUT_FRACTION)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--model", choices=("auto", *heads.CANDIDATES), default="auto")
    parser.add_argument("--report", help="also write the holdout report into this directory")
    args = parser.parse_args(argv)
    rows = dataset.read_rows(args.data)
    result = train(rows, args.holdout, args.seed, args.model)
    path = store.save(result.model, result.meta, args.models_dir)
    print(f"saved {path}")
    from classifier.evaluate import format_report, write_report

    held = set(result.holdout_ids)
    report = {**result.metrics,
              "fields": metrics.field_recall([row for row in rows if dataset.row_id(row) in held])}
    print(format_report(report))
    if args.report:
        write_report(report, Path(args.report), title=path.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
