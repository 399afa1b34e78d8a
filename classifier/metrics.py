"""Evaluation numbers for predictions against labelled rows (plain dicts, JSON-ready).

Per head: accuracy, macro-F1, per-class precision / recall / F1 / support,
the confusion matrix, accuracy per script (simplified / traditional), the
share sent to review at the threshold, and the coverage-vs-accuracy curve —
for each threshold, the share of messages the model would decide alone and
its accuracy on them.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from classifier.extract import extract_fields

CURVE_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.0, 1.0, 0.05))


def evaluate(rows: list[dict], predictions: list, thresholds: dict[str, float]) -> dict:
    """Metrics for every head that both the rows and the predictions have."""
    result = {"rows": len(rows), "heads": {}}
    head_names = predictions[0].heads if predictions else {}
    for head in head_names:
        pairs = [(row, p[head]) for row, p in zip(rows, predictions, strict=True) if row.get(head)]
        if pairs:
            result["heads"][head] = head_metrics(
                [str(row[head]) for row, _ in pairs],
                [p.label for _, p in pairs],
                [p.probability for _, p in pairs],
                [_script(row) for row, _ in pairs],
                thresholds.get(head, 0.0),
            )
    result["review_rate"] = (
        float(np.mean([p.needs_review for p in predictions])) if predictions else 0.0
    )
    return result


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    """F1 averaged over the classes the truth has (a class only predicted adds nothing)."""
    return float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro",
                          zero_division=0))


def head_metrics(
    truth: list[str], predicted: list[str], probability: list[float], scripts: list[str],
    threshold: float,
) -> dict:
    labels = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    correct = np.array(truth) == np.array(predicted)
    probability = np.array(probability)
    by_script = {
        script: float(correct[np.array(scripts) == script].mean())
        for script in sorted(set(scripts))
    }
    return {
        "n": len(truth),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": macro_f1(truth, predicted),
        "per_class": {
            label: {
                "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion": {
            "labels": labels,
            "matrix": confusion_matrix(truth, predicted, labels=labels).tolist(),
        },
        "accuracy_by_script": by_script,
        "threshold": threshold,
        "review_rate": float((probability < threshold).mean()),
        "coverage_curve": coverage_curve(correct, probability),
    }


def coverage_curve(correct: np.ndarray, probability: np.ndarray) -> list[dict]:
    curve = []
    for threshold in CURVE_THRESHOLDS:
        kept = probability >= threshold
        curve.append(
            {
                "threshold": threshold,
                "coverage": float(kept.mean()),
                "accuracy": float(correct[kept].mean()) if kept.any() else None,
            }
        )
    return curve


def _script(row: dict) -> str:
    return str(row.get("script") or "unknown")


FIELD_COLUMNS = ("phones", "order_numbers")


def field_recall(rows: list[dict]) -> dict:
    """Per field, the share of the numbers a row lists that extraction finds, exactly as
    written: {"phones": {"found", "listed", "recall"}, …}, over the rows that list any."""
    counts = {column: [0, 0] for column in FIELD_COLUMNS}
    for row in rows:
        if not any(row.get(column) for column in FIELD_COLUMNS):
            continue
        fields = extract_fields(row.get("subject") or "", row.get("body") or "")
        for column in FIELD_COLUMNS:
            listed = row.get(column) or []
            found = getattr(fields, column)
            counts[column][0] += sum(number in found for number in listed)
            counts[column][1] += len(listed)
    return {column: {"found": found, "listed": listed, "recall": found / listed if listed else None}
            for column, (found, listed) in counts.items()}
