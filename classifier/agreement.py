"""How far two labellers agree: the ceiling a model trained on their labels can be held to.

    python -m classifier.agreement classifier/data/corpus classifier/data/second_reading/labels.jsonl

compares the corpus's labels with a second labeller's (rows with ``id`` and any of the heads,
read blind to the first labels) per head: the share of rows labelled alike, macro-F1 of the
second labeller taking the first as the truth (the figure the model's held-out macro-F1 is
compared with) and Cohen's kappa, on all rows and on the held-out part alone.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from sklearn.metrics import cohen_kappa_score

from classifier import dataset
from classifier.heads import HEADS
from classifier.metrics import macro_f1
from classifier.options import HOLDOUT_FRACTION


def agreement(first: Iterable[dict], second: Iterable[dict],
              heads: Iterable[str] = HEADS) -> dict[str, dict]:
    """Per head both readings label: {"n", "agreement", "macro_f1", "kappa"} over the rows
    (matched by id) that carry the head in both; kappa is None where only one label occurs."""
    seconds = {dataset.row_id(row): row for row in second}
    matched = [(row, seconds.get(dataset.row_id(row), {})) for row in first]
    result = {}
    for head in heads:
        pairs = [(row[head], other[head]) for row, other in matched if row.get(head) and other.get(head)]
        if not pairs:
            continue
        truth, other = zip(*pairs, strict=True)
        result[head] = {
            "n": len(pairs),
            "agreement": sum(a == b for a, b in pairs) / len(pairs),
            "macro_f1": macro_f1(list(truth), list(other)),
            # κ is undefined when both readings use one label only
            "kappa": float(cohen_kappa_score(truth, other)) if len(set(truth) | set(other)) > 1 else None,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", help="the labelled rows (file or directory)")
    parser.add_argument("second", help="the second labeller's rows (id and labels)")
    args = parser.parse_args(argv)
    try:
        rows = dataset.read_rows([args.corpus])
        second = dataset.read_rows([args.second])
    except (OSError, ValueError) as error:  # a missing file, a line that is not JSON
        parser.error(str(error))
    parts = {"all rows": rows,
             "held-out rows": [r for r in rows if dataset.is_holdout(dataset.row_id(r), HOLDOUT_FRACTION)]}
    for name, part in parts.items():
        print(f"{name}:")
        for head, figures in agreement(part, second).items():
            kappa = "—" if figures["kappa"] is None else f"{figures['kappa']:.3f}"
            print(f"  {head:<11} n={figures['n']:>5}  agreement {figures['agreement']:.3f}"
                  f"  macro-F1 {figures['macro_f1']:.3f}  kappa {kappa}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
