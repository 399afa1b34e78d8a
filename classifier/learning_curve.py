"""Would more labelled mail help? Held-out macro-F1 of models trained on growing shares of the
training rows.

    python -m classifier.learning_curve classifier/data/corpus [--fractions 0.25 0.5 0.75 1]

Each point is a whole `train()` — same features, same choice of estimator — on a random share
of the rows outside the frozen holdout, scored on the whole holdout, which is the same for
every point. While macro-F1 still rises from one point to the next, labelling more mail of
the kind the rows already have pays; once it is flat, the model has learnt what its features
can tell apart, and more of the same buys nothing.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

from classifier import dataset
from classifier.options import DEFAULT_SEED, HOLDOUT_FRACTION
from classifier.train import train


@dataclass
class CurvePoint:
    fraction: float
    train_rows: int
    holdout_rows: int
    macro_f1: dict[str, float]  # per head, on the holdout


def learning_curve(rows: list[dict], fractions: list[float], holdout_fraction: float = HOLDOUT_FRACTION,
                   seed: int = DEFAULT_SEED, n_jobs: int | None = None) -> list[CurvePoint]:
    """One point per fraction (0 < f ≤ 1) of the training rows, smaller shares nested in larger
    ones, so the points differ only by the rows added."""
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ValueError("fractions must lie in (0, 1]")
    held, training = [], []
    for row in rows:
        (held if dataset.is_holdout(dataset.row_id(row), holdout_fraction) else training).append(row)
    if not held:
        raise ValueError("no held-out rows: nothing to score the points on")
    random.Random(seed).shuffle(training)
    points = []
    for fraction in sorted(fractions):
        share = training[: max(1, round(len(training) * fraction))]
        result = train(share + held, holdout_fraction, seed, n_jobs=n_jobs)
        points.append(CurvePoint(
            fraction=fraction, train_rows=len(result.train_ids), holdout_rows=len(result.holdout_ids),
            macro_f1={head: m["macro_f1"] for head, m in result.metrics["heads"].items()},
        ))
    return points


def format_curve(points: list[CurvePoint]) -> str:
    heads = list(points[0].macro_f1) if points else []
    lines = [f"{'share':>6} {'train rows':>10} {'holdout':>8} " + " ".join(f"{h:>11}" for h in heads)]
    for point in points:
        lines.append(f"{point.fraction:>6.2f} {point.train_rows:>10,} {point.holdout_rows:>8,} "
                     + " ".join(f"{point.macro_f1.get(h, float('nan')):>11.3f}" for h in heads))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="+", help="labelled rows (.jsonl / .csv files or directories)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    try:
        rows = dataset.read_rows(args.data)
        points = learning_curve(rows, args.fractions, seed=args.seed)
    except (OSError, ValueError) as error:  # a missing file, a bad line, bad fractions
        parser.error(str(error))
    print(format_curve(points))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
