"""The classifier against the people who corrected it, and how much went to manual review (pure).

For each head, of the cases opened in the period that the classifier labelled, the share whose
label nobody corrected: 1 − corrected / predicted. A case counts as corrected when its last
correction (by an admin, or a department's 转派 for the department head) ends on a label other
than the one the classifier predicted; corrected back to the prediction, it agrees.
"""

from __future__ import annotations

from worker.stats.rows import CaseRow, CorrectionRow, Ratio, ratio

HEADS = ("kind", "category", "department", "severity")


def corrected(corrections: list[CorrectionRow]) -> bool:
    """Whether a case's corrections of one head, in order, end away from the prediction."""
    first, last = corrections[0], corrections[-1]
    predicted = first.predicted_label or first.old_label
    return last.new_label != predicted


def agreement(cases: list[CaseRow], corrections: list[CorrectionRow]) -> dict[str, dict]:
    by_case_head: dict[tuple[int, str], list[CorrectionRow]] = {}
    for correction in sorted(corrections, key=lambda c: (c.at, c.id)):
        by_case_head.setdefault((correction.case_id, correction.head), []).append(correction)
    result = {}
    for head in HEADS:
        predicted = [c for c in cases if head in c.predicted_heads]
        result[head] = ratio(not corrected(by_case_head[(c.id, head)]) if (c.id, head) in by_case_head
                             else True for c in predicted).as_dict()
    return result


def manual_review(cases: list[CaseRow]) -> Ratio:
    """Cases the classifier was unsure of, sent to the desk for manual triage / all cases."""
    return ratio(c.needs_review for c in cases)
