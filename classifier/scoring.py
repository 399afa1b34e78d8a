"""Scoring the fitted heads with their own numbers, fast for one message.

sklearn's `CalibratedClassifierCV.predict_proba` validates its input once per
class, and `ColumnTransformer.transform` dispatches through joblib: together
about 10 ms a call whatever the batch size, while the worker predicts one
message at a time. The heads are linear, so their probabilities are a few
array operations: `LinearHead` lifts the weights and sigmoid parameters out
of the fitted estimator once, at load time, and reproduces `predict_proba`
(the tests compare the two).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression

from classifier import features


@dataclass(frozen=True)
class LinearHead:
    classes: tuple[str, ...]
    coef: np.ndarray  # (members, scores, features): one member per calibration fold
    intercept: np.ndarray  # (members, scores)
    sigmoid: np.ndarray | None  # (members, scores, 2): a, b of each class's calibrator

    @classmethod
    def from_estimator(cls, estimator) -> LinearHead:
        classes = tuple(str(label) for label in estimator.classes_)
        if isinstance(estimator, CalibratedClassifierCV):
            members = estimator.calibrated_classifiers_
            if any(m.method != "sigmoid" for m in members):
                raise ValueError("only sigmoid calibration is supported")
            return cls(
                classes,
                np.stack([m.estimator.coef_ for m in members]),
                np.stack([np.atleast_1d(m.estimator.intercept_) for m in members]),
                np.stack([[(c.a_, c.b_) for c in m.calibrators] for m in members]),
            )
        if isinstance(estimator, LogisticRegression):
            return cls(classes, estimator.coef_[None], np.atleast_1d(estimator.intercept_)[None], None)
        raise TypeError(f"no fast scoring for {type(estimator).__name__}")

    def proba(self, X: sp.csr_matrix) -> np.ndarray:
        members = []
        for index in range(self.coef.shape[0]):
            scores = X @ self.coef[index].T + self.intercept[index]
            members.append(self._member_proba(np.asarray(scores), index))
        return np.mean(members, axis=0)

    def _member_proba(self, scores: np.ndarray, index: int) -> np.ndarray:
        binary = len(self.classes) == 2
        if self.sigmoid is None:  # logistic regression
            if binary:
                positive = expit(scores[:, 0])
                return np.column_stack([1 - positive, positive])
            return softmax(scores, axis=1)
        a, b = self.sigmoid[index, :, 0], self.sigmoid[index, :, 1]
        calibrated = expit(-(a * scores + b))
        if binary:
            return np.column_stack([1 - calibrated[:, 0], calibrated[:, 0]])
        total = calibrated.sum(axis=1, keepdims=True)
        uniform = np.full_like(calibrated, 1 / len(self.classes))
        proba = np.divide(calibrated, total, out=uniform, where=total != 0)
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba

    def weights(self) -> np.ndarray:
        """(classes, features) weights for explanations: the members' mean."""
        weights = self.coef.mean(axis=0)
        if weights.shape[0] == 1:  # binary: one row scores the second class
            weights = np.vstack([-weights[0], weights[0]])
        return weights


def transform(vectorizer: ColumnTransformer, docs: np.ndarray) -> sp.csr_matrix:
    """`vectorizer.transform(docs)` without the per-call dispatch (same output)."""
    weights = vectorizer.transformer_weights or {}
    blocks = [
        weights.get(name, 1.0) * fitted.transform(docs[:, column])
        for name, fitted, column in features.fitted_blocks(vectorizer)
    ]
    return sp.hstack(blocks, format="csr")
