"""Evaluating a saved model on a data file, and the report (text + PNG).

    python -m classifier.evaluate models/<version> data.jsonl --out report/

prints accuracy and macro-F1 per head and writes ``report.txt`` and
``report.png`` (confusion matrices and the coverage-vs-accuracy curves; axes
use label codes, so no CJK font is needed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from classifier import dataset, metrics
from classifier.predict import Classifier


def evaluate(
    classifier: Classifier, rows: list[dict], thresholds: dict[str, float] | None = None
) -> dict:
    limits = {**classifier.thresholds, **(thresholds or {})}
    predictions = classifier.predict_many(rows, limits)
    return {**metrics.evaluate(rows, predictions, limits), "fields": metrics.field_recall(rows)}


def format_report(result: dict) -> str:
    if not result.get("heads"):
        return "no labelled rows to evaluate"
    lines = [f"rows: {result['rows']}  sent to review: {result['review_rate']:.1%}"]
    for head, m in result["heads"].items():
        scripts = "  ".join(f"{s}={a:.3f}" for s, a in m["accuracy_by_script"].items())
        lines.append(
            f"\n{head}: n={m['n']} accuracy={m['accuracy']:.3f} macro-F1={m['macro_f1']:.3f}"
            f"  review below {m['threshold']:.2f}: {m['review_rate']:.1%}  ({scripts})"
        )
        lines.append(f"  {'code':>4} {'label':<20} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>5}")
        codes = {label: code for code, label in enumerate(m["confusion"]["labels"])}
        for label, c in m["per_class"].items():
            lines.append(
                f"  {codes.get(label, ''):>4} {label:<20} {c['precision']:>6.3f}"
                f" {c['recall']:>6.3f} {c['f1']:>6.3f} {c['support']:>5}"
            )
        curve = "  ".join(
            f"{p['threshold']:.2f}:{p['coverage']:.2f}/{p['accuracy']:.2f}"
            for p in m["coverage_curve"][::2]
            if p["accuracy"] is not None
        )
        lines.append(f"  coverage/accuracy by threshold: {curve}")
    for column, recall in result.get("fields", {}).items():
        if recall["listed"]:
            lines.append(f"\n{column}: extraction recall {recall['recall']:.3f}"
                         f" ({recall['found']} of {recall['listed']} found exactly as written)")
    return "\n".join(lines)


def write_report(result: dict, out_dir: Path, title: str = "") -> tuple[Path, Path]:
    """``report.txt`` and ``report.png`` in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    text_path, image_path = out_dir / "report.txt", out_dir / "report.png"
    text_path.write_text(f"{title}\n{format_report(result)}\n", encoding="utf-8")
    head_metrics = result.get("heads", {})
    panels = len(head_metrics) + 1
    columns = min(panels, 3)
    rows = -(-panels // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 6 * rows), squeeze=False)
    flat = list(axes.flat)
    for axis, (head, m) in zip(flat, head_metrics.items(), strict=False):
        _confusion(axis, head, m)
    _curves(flat[len(head_metrics)], head_metrics)
    for axis in flat[panels:]:
        axis.axis("off")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(image_path, dpi=90)
    plt.close(figure)
    return text_path, image_path


def _confusion(axis, head: str, m: dict) -> None:
    labels, matrix = m["confusion"]["labels"], m["confusion"]["matrix"]
    codes = [str(index) for index in range(len(labels))]  # label i is code i (see report.txt)
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(labels)), codes)
    axis.set_yticks(range(len(labels)), codes)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                axis.text(j, i, str(count), ha="center", va="center", fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    pairs = [f"{c}={label}" for c, label in zip(codes, labels, strict=True)]
    legend = "\n".join(", ".join(pairs[i : i + 3]) for i in range(0, len(pairs), 3))
    if not legend.isascii():  # no CJK font needed: the codes are listed in report.txt
        legend = "codes as in report.txt"
    axis.set_title(f"{head} (macro-F1 {m['macro_f1']:.2f})\n{legend}", fontsize=8)


def _curves(axis, head_metrics: dict) -> None:
    for head, m in head_metrics.items():
        points = [p for p in m["coverage_curve"] if p["accuracy"] is not None]
        axis.plot([p["coverage"] for p in points], [p["accuracy"] for p in points], label=head)
    axis.set_xlabel("coverage (share decided without review)")
    axis.set_ylabel("accuracy on covered")
    axis.set_title("coverage vs accuracy")
    axis.legend()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a saved classifier on labelled data.")
    parser.add_argument("model_dir")
    parser.add_argument("data", nargs="+", help=".jsonl / .csv files or directories of them")
    parser.add_argument("--out", help="directory for report.txt and report.png")
    args = parser.parse_args(argv)
    classifier = Classifier.load(args.model_dir)
    result = evaluate(classifier, dataset.read_rows(args.data))
    print(format_report(result))
    if args.out:
        write_report(result, Path(args.out), title=Path(args.model_dir).name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
