"""The classifier as the worker uses it: load once per process, then predict.

    classifier = Classifier.load("models/20261123-193000-1a2b3c4d")
    prediction = classifier.predict(subject, body)
    prediction["department"].label, prediction.needs_review

`Classifier.load` reads the model and warms the text pipeline (jieba's
dictionary, the user dictionary, OpenCC); after that `predict` and
`predict_many` do no I/O.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from classifier import features, signals, store, text
from classifier.scoring import LinearHead, transform

DEFAULT_THRESHOLDS = {"kind": 0.5, "category": 0.4, "department": 0.4, "severity": 0.5}
TOP_CANDIDATES = 3
TOP_WORDS = 5


@dataclass(frozen=True)
class HeadPrediction:
    label: str  # the best candidate, also when it needs review
    probability: float  # calibrated probability of `label` by the model
    candidates: tuple[tuple[str, float], ...]  # top 3 (label, probability)
    words: tuple[str, ...]  # terms that pushed the model towards its choice
    needs_review: bool  # probability below the head's threshold
    reasons: tuple[str, ...] = ()  # explicit signals (severity only)


@dataclass(frozen=True)
class Prediction:
    heads: dict[str, HeadPrediction]
    signals: tuple[signals.Signal, ...] = field(default=())

    @property
    def needs_review(self) -> bool:
        return any(head.needs_review for head in self.heads.values())

    def __getitem__(self, head: str) -> HeadPrediction:
        return self.heads[head]

    def labels(self) -> dict[str, str]:
        return {name: head.label for name, head in self.heads.items()}

    def to_dict(self) -> dict:
        return {
            "heads": {name: asdict(head) for name, head in self.heads.items()},
            "signals": [asdict(signal) for signal in self.signals],
            "needs_review": self.needs_review,
        }


class Classifier:
    """Four heads over one feature space. Build with `load` or from `train`."""

    def __init__(self, model: dict, meta: dict):
        text.warm_up()
        self.meta = meta
        self.vectorizer = model["vectorizer"]
        self.models = dict(model["heads"])
        self.thresholds = {**DEFAULT_THRESHOLDS, **meta.get("thresholds", {})}
        self._terms, self._explainable = features.terms(self.vectorizer)
        self._scorers = {name: LinearHead.from_estimator(m) for name, m in self.models.items()}
        self._weights = {name: scorer.weights() for name, scorer in self._scorers.items()}
        # What predicting needs now exists and lives as long as the process, like the
        # libraries imported for it: the cycle collector need not walk any of it again
        # (a full collection over them takes about 0.3 s, and one runs at exit).
        gc.freeze()

    @classmethod
    def load(cls, model_dir: str | Path) -> Classifier:
        model, meta = store.load(model_dir)
        return cls(model, meta)

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.models)

    def labels(self, head: str) -> tuple[str, ...]:
        return self._scorers[head].classes

    def predict(
        self, subject: str, body: str, thresholds: dict[str, float] | None = None
    ) -> Prediction:
        return self.predict_many([(subject, body)], thresholds)[0]

    def predict_many(
        self,
        rows: Iterable[tuple[str, str] | Mapping[str, str]],
        thresholds: dict[str, float] | None = None,
    ) -> list[Prediction]:
        """Predictions for (subject, body) pairs or mappings with those keys."""
        pairs = [_pair(row) for row in rows]
        if not pairs:
            return []
        return self.predict_vectors(
            pairs, transform(self.vectorizer, features.documents(pairs)), thresholds
        )

    def predict_vectors(
        self, pairs: list[tuple[str, str]], X, thresholds: dict[str, float] | None = None
    ) -> list[Prediction]:
        """`predict_many` for pairs whose feature rows `X` the caller already has
        (training has them for its holdout)."""
        given = {head: limit for head, limit in (thresholds or {}).items() if limit is not None}
        limits = {**self.thresholds, **given}
        found = [signals.detect(text.normalize(f"{s}\n{b}")) for s, b in pairs]
        per_head = {name: self._head(name, X, limits[name], found) for name in self.models}
        return [
            Prediction(
                heads={name: results[index] for name, results in per_head.items()},
                signals=tuple(found[index]),
            )
            for index in range(len(pairs))
        ]

    def _head(self, name, X, threshold, found) -> list[HeadPrediction]:
        scorer = self._scorers[name]
        classes = list(scorer.classes)
        probabilities = scorer.proba(X)
        ranked = np.argsort(-probabilities, axis=1)[:, :TOP_CANDIDATES]
        words = self._explain(X, self._weights[name], ranked[:, 0])
        results = []
        for index, order in enumerate(ranked):
            candidates = tuple((classes[j], float(probabilities[index, j])) for j in order)
            label, probability = candidates[0]
            needs_review = probability < threshold
            reasons: tuple[str, ...] = ()
            if name == "severity" and found[index]:
                reasons = tuple(signal.reason for signal in found[index])
                raised = signals.raise_severity(label, found[index], tuple(classes))
                if raised != label:  # an explicit signal decides, no guess to review
                    label, needs_review = raised, False
                    probability = float(probabilities[index, classes.index(raised)])
            results.append(
                HeadPrediction(label, probability, candidates, words[index], needs_review, reasons)
            )
        return results

    def _explain(self, X, weights: np.ndarray, chosen: np.ndarray) -> list[tuple[str, ...]]:
        """Per row, the terms with the largest weight × value for the chosen class."""
        row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        contributions = X.data * weights[chosen[row_of], X.indices]
        contributions[~self._explainable[X.indices]] = 0.0
        explained = []
        for row in range(X.shape[0]):
            start, end = X.indptr[row], X.indptr[row + 1]
            values = contributions[start:end]
            picked: list[str] = []
            for offset in np.argsort(-values)[: TOP_WORDS * 4]:
                if values[offset] <= 0 or len(picked) == TOP_WORDS:
                    break
                term = self._terms[X.indices[start + offset]]
                if term not in picked:
                    picked.append(term)
            explained.append(tuple(picked))
        return explained


def _pair(row: tuple[str, str] | Mapping[str, str]) -> tuple[str, str]:
    if isinstance(row, Mapping):
        return row.get("subject") or "", row.get("body") or ""
    subject, body = row
    return subject or "", body or ""
