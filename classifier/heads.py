"""The four heads — kind, category, department, severity — as linear models.

Two candidates per head, both giving calibrated probabilities:

- ``svc``: LinearSVC inside ``CalibratedClassifierCV(method="sigmoid", cv=3)``;
- ``logreg``: multinomial LogisticRegression (saga: as accurate as lbfgs on
  these sparse TF-IDF features and about four times faster to fit).

`choose()` picks one per head by cross-validated macro-F1 on the training
part (so the frozen holdout stays an honest estimate).
"""

from __future__ import annotations

from collections import Counter

from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from classifier.options import CANDIDATES

HEADS = ("kind", "category", "department", "severity")
CALIBRATION_FOLDS = 3
SELECTION_FOLDS = 3


def make_estimator(name: str, seed: int = 0):
    """An unfitted candidate model."""
    if name == "svc":
        return CalibratedClassifierCV(
            LinearSVC(C=0.5, class_weight="balanced", random_state=seed),
            method="sigmoid",
            cv=CALIBRATION_FOLDS,
            ensemble=False,  # one SVC on all rows, sigmoids from cross-validated scores
        )
    if name == "logreg":
        return LogisticRegression(
            C=10.0, class_weight="balanced", solver="saga", max_iter=3000, tol=1e-3
        )
    raise ValueError(f"unknown model {name!r}; expected one of {CANDIDATES}")


def feasible(labels: list[str]) -> tuple[str, ...]:
    """Candidates that can be fitted on these labels. Calibration needs three
    examples of every class; with fewer, only logistic regression is left."""
    smallest = min(Counter(labels).values())
    return CANDIDATES if smallest >= CALIBRATION_FOLDS else ("logreg",)


def choose(X, labels: list[str], candidates: tuple[str, ...], seed: int = 0) -> tuple[str, dict]:
    """The candidate with the best cross-validated macro-F1, and every score.

    Selection needs each class in every fold with enough left for the inner
    calibration; when the data are too small for that, logistic regression is
    taken unscored.
    """
    usable = [name for name in candidates if name in feasible(labels)] or ["logreg"]
    smallest = min(Counter(labels).values())
    if len(usable) == 1 or smallest < SELECTION_FOLDS * 2:
        return usable[-1], {}
    folds = StratifiedKFold(SELECTION_FOLDS, shuffle=True, random_state=seed)
    scores = {}
    for name in usable:
        predicted = cross_val_predict(make_estimator(name, seed), X, labels, cv=folds)
        scores[name] = float(f1_score(labels, predicted, average="macro"))
    best = max(usable, key=lambda name: (scores[name], name == "logreg"))
    return best, scores


def fit(name: str, X, labels: list[str], seed: int = 0):
    return clone(make_estimator(name, seed)).fit(X, labels)

