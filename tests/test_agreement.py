"""Agreement between two labellers (classifier/agreement.py)."""

import json
from pathlib import Path

import pytest

from classifier import dataset
from classifier.agreement import agreement, main

FIRST = [
    {"id": "a", "body": "…", "category": "delivery", "kind": "complaint"},
    {"id": "b", "body": "…", "category": "delivery", "kind": "complaint"},
    {"id": "c", "body": "…", "category": "other", "kind": "inquiry"},
    {"id": "d", "body": "…", "category": "other", "kind": "inquiry"},
    {"id": "e", "body": "…", "category": "other", "kind": "praise"},  # no second reading
]


def test_the_same_labels_agree_completely():
    result = agreement(FIRST, FIRST)
    assert result["category"] == {"n": 5, "agreement": 1.0, "macro_f1": 1.0, "kappa": 1.0}


def test_one_disagreement_in_four_rows():
    second = [{"id": "a", "category": "delivery"}, {"id": "b", "category": "other"},
              {"id": "c", "category": "other"}, {"id": "d", "category": "other"}]
    result = agreement(FIRST, second)
    assert set(result) == {"category"}  # the second reading has no kinds
    figures = result["category"]
    assert figures["n"] == 4 and figures["agreement"] == 0.75
    # delivery: precision 1, recall 1/2 → F1 2/3; other: precision 2/3, recall 1 → F1 4/5
    assert figures["macro_f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert figures["kappa"] == pytest.approx(0.5)


def test_one_label_in_both_readings_agrees_without_a_kappa():
    rows = [{"id": "a", "kind": "complaint"}, {"id": "b", "kind": "complaint"}]
    assert agreement(rows, rows)["kind"] == {"n": 2, "agreement": 1.0, "macro_f1": 1.0, "kappa": None}


def test_command_line_prints_every_part(tmp_path, capsys):
    corpus, second = tmp_path / "corpus.jsonl", tmp_path / "second.jsonl"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in FIRST), encoding="utf-8")
    second.write_text("".join(json.dumps({"id": r["id"], "kind": r["kind"]}) + "\n"
                              for r in FIRST), encoding="utf-8")
    assert main([str(corpus), str(second)]) == 0
    printed = capsys.readouterr().out
    assert "all rows:" in printed and "held-out rows:" in printed
    assert "kind" in printed and "n=    5  agreement 1.000" in printed


def test_command_line_names_a_bad_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "second.jsonl"
    bad.write_text('{"id": "a", "kind"\n', encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "missing.jsonl"), str(bad)])
    assert exit_.value.code == 2 and "missing.jsonl" in capsys.readouterr().err
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps(FIRST[0]) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main([str(corpus), str(bad)])
    assert "second.jsonl:1: not JSON" in capsys.readouterr().err


def test_the_shipped_second_reading_labels_corpus_rows_from_the_label_sets():
    data = Path(__file__).resolve().parent.parent / "classifier" / "data"
    corpus = dataset.read_rows([data / "corpus"])
    second = {row["id"]: row for row in dataset.read_rows([data / "second_reading" / "labels.jsonl"])}
    assert len(second) >= 6310 and set(second) <= {row["id"] for row in corpus}
    for head in ("kind", "category", "department"):
        assert {row[head] for row in second.values()} <= {row[head] for row in corpus}, head
