"""The four heads — kind, category, department, severity — as linear models.

Two candidates per head, both giving calibrated probabilities:

- ``svc``: LinearSVC inside ``CalibratedClassifierCV(method="sigmoid", cv=3)``;
- ``logreg``: multinomial LogisticRegression (saga: as accurate as lbfgs on
  these sparse TF-IDF features and about four times faster to fit).

`choose()` picks one per head by cross-validated macro-F1 on the training
part (so the frozen holdout stays an honest estimate), the SVC unless logistic
regression leads by more than the noise of its own fitting. From ``LARGE`` training
rows on it takes logistic regression without comparing: calibrating the SVC
takes four fits of it (three for the cross-validated sigmoids, one on all
rows) and comparing the candidates fifteen more, and on the 40,000 training rows
of the classifier benchmark logistic regression was as good or better on every
head (held-out macro-F1 kind 0.951 / 0.951, category 0.749 / 0.738, department
0.798 / 0.795, severity 0.874 / 0.870 against the calibrated SVC) in about a
quarter of the time (40 s against 140 s on one core for the four heads).
"""

from __future__ import annotations

from collections import Counter

from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from classifier.options import CANDIDATES

HEADS = ("kind", "category", "department", "severity")
CALIBRATION_FOLDS = 3
SELECTION_FOLDS = 3
# saga's shuffling alone moves the cross-validated macro-F1 of logistic regression by up
# to 0.003 from one seed to another (category on the shipped corpus: 0.7743 to 0.7773);
# a smaller lead than this decides nothing.
SELECTION_MARGIN = 0.005
LARGE = 10_000
# saga stops when a pass over the rows changes the weights by less than `tol`. On many
# rows 1e-2 takes half the passes of 1e-3 at the same macro-F1 (benchmark, category:
# 19 passes against 33, 0.745 against 0.744).
LARGE_TOLERANCE = 1e-2


def make_estimator(name: str, seed: int = 0, rows: int = 0):
    """An unfitted candidate model for a head with `rows` training rows."""
    if name == "svc":
        return CalibratedClassifierCV(
            LinearSVC(C=0.5, class_weight="balanced", random_state=seed),
            method="sigmoid",
            cv=CALIBRATION_FOLDS,
            ensemble=False,  # one SVC on all rows, sigmoids from cross-validated scores
        )
    if name == "logreg":
        return LogisticRegression(
            C=10.0, class_weight="balanced", solver="saga", max_iter=3000,
            tol=LARGE_TOLERANCE if rows >= LARGE else 1e-3, random_state=seed,
        )
    raise ValueError(f"unknown model {name!r}; expected one of {CANDIDATES}")


def feasible(labels: list[str]) -> tuple[str, ...]:
    """Candidates that can be fitted on these labels. Calibration needs three
    examples of every class; with fewer, only logistic regression is left."""
    smallest = min(Counter(labels).values())
    return CANDIDATES if smallest >= CALIBRATION_FOLDS else ("logreg",)


def choose(X, labels: list[str], candidates: tuple[str, ...], seed: int = 0) -> tuple[str, dict]:
    """The candidate with the best cross-validated macro-F1, and every score. The first
    candidate (the calibrated SVC) is kept unless another is better by more than
    ``SELECTION_MARGIN``.

    Selection needs each class in every fold with enough left for the inner
    calibration; when the data are too small for that, logistic regression is
    taken unscored, and so it is from ``LARGE`` rows on (see the module's note).
    """
    usable = [name for name in candidates if name in feasible(labels)] or ["logreg"]
    smallest = min(Counter(labels).values())
    if len(usable) > 1 and len(labels) >= LARGE:
        return "logreg", {}
    if len(usable) == 1 or smallest < SELECTION_FOLDS * 2:
        return usable[-1], {}
    folds = StratifiedKFold(SELECTION_FOLDS, shuffle=True, random_state=seed)
    scores = {}
    for name in usable:
        estimator = make_estimator(name, seed, len(labels))
        predicted = cross_val_predict(estimator, X, labels, cv=folds)
        scores[name] = float(f1_score(labels, predicted, average="macro"))
    first = usable[0]
    best = max(usable, key=lambda name: scores[name] - (name != first) * SELECTION_MARGIN)
    return best, scores


def fit_best(X, labels: list[str], candidates: tuple[str, ...], seed: int = 0) -> tuple:
    """The chosen candidate fitted on all rows, and the choice as meta.json records it."""
    chosen, scores = choose(X, labels, candidates, seed)
    estimator = make_estimator(chosen, seed, len(labels)).fit(X, labels)
    return estimator, {"model": chosen, "cv_macro_f1": scores}
