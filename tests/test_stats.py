"""Statistics and reports: figures checked by hand against a constructed set of cases, the
formats, the monthly report mail, a real run, and the HTML report in headless chromium.

The constructed set (recycling policy, Asia/Shanghai), reported for October 2026 and compared
with September 2026. National Day: 1–7 October are holidays and Saturday 10 October is a
make-up working day (调休); Mid-autumn: 25–27 September are holidays.

  S1  complaint  service_quality  operations  opened Wed 30 Sep 10:00, full plan across the
      holiday; answered 13 Oct 17:00, follow-up 16 Oct (closed), satisfied 17 Oct, archived.
  S2  complaint  service_quality  operations  opened 7 Sep; follow-up and closed 11 Sep; the
      customer writes again on 5 Oct (reopened, no verdict recorded = unsatisfied); answered
      again 9 Oct, follow-up 14 Oct (closed), never answered.
  S3  complaint  after_sales      after_sales opened Thu 24 Sep 09:00; dispatch due Tue 29 Sep
      (Mid-autumn in between) done 28 Sep; answer due 30 Sep never done: open and overdue.
  O1  complaint  service_quality  operations  opened Fri 9 Oct 10:00; one answer, closed: the
      first-contact resolution. Severity corrected normal → major → normal (back to the model).
  O2  complaint  pricing_billing  finance     opened 12 Oct; reassigned from operations by the
      department (a correction); extension asked 19 Oct in time (answer due 20 → 22 Oct), met;
      unsatisfied 23 Oct, reopened, answered again 28 Oct; follow-up and closed 2 Nov.
  O3  complaint  service_quality  operations  opened 20 Oct, major, a repeat of S1; answer due
      27 Oct still pending: open and overdue.
  O4  inquiry    delivery         logistics   opened 26 Oct, sent to manual review; an admin
      corrected category (other → delivery) and department (customer_service → logistics);
      dispatch due 28 Oct done 29 Oct (late).
  O5  complaint  staff_misconduct hr          opened Tue 13 Oct 10:00, full plan; extension
      asked 21 Oct 09:00, after investigate's planned deadline (20 Oct 18:00): late; answered
      22 Oct, follow-up 27 Oct, satisfied 28 Oct, archived.
  O6  complaint  other            customer_service  opened 30 Oct, out of scope.
  O7  suggestion other            customer_service  opened Sat 31 Oct 23:30 local (15:30 UTC):
      in October; no classifier prediction.
  N1  praise     other            customer_service  opened Sun 1 Nov 00:30 local (31 Oct 16:30
      UTC): not in October.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from datetime import date, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from models.base import utcnow
from models.cases import Case, CaseEvent, Deadline, LabelCorrection
from models.db import Database
from models.mail import OutgoingMail
from worker.cases.deadlines import plan_handling
from worker.cli import triage
from worker.policy import load_policy
from worker.stats import periods
from worker.stats.backlog import was_open
from worker.stats.formats import to_csv, to_table
from worker.stats.html import render_html
from worker.stats.mailing import due_reports, queue_due_reports
from worker.stats.periods import Period
from worker.stats.rows import CaseRow, DeadlineRow, EventRow
from worker.stats.service import report_for
from worker.stats.timeliness import stage_outcome
from worker.workdays import Duration

from harness import mail, make_app, write_config
from servers import skip_or_fail

ZONE = ZoneInfo("Asia/Shanghai")
POLICY = load_policy("recycling")
AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=ZONE)
OCTOBER = periods.parse("month", "2026-10", ZONE)
HEADS = {"kind": 0.9, "category": 0.8, "department": 0.8, "severity": 0.9}


def t(text: str) -> datetime:
    """'10-13 17:00' → 13 October 2026, 17:00 in Shanghai ('09-30 10:00' for September …)."""
    return datetime.fromisoformat(f"2026-{text}").replace(tzinfo=ZONE)


# --- the constructed set ----------------------------------------------------


class Builder:
    def __init__(self, session):
        self.session = session
        self.serial = 0

    def case(self, number: str, opened: str, kind: str, category: str, department: str, *,
             severity: str = "normal", status: str = "open", customer: str = "", **fields) -> Case:
        self.serial += 1
        case = Case(number=number, status=status, kind=kind, category=category, department=department,
                    severity=severity, confidence=fields.pop("confidence", HEADS),
                    complainant_address=customer or f"{number.lower()}@example.cn",
                    reply_token=f"token{self.serial}", created_at=t(opened), updated_at=t(opened),
                    **fields)
        self.session.add(case)
        self.session.flush()
        return case

    def deadline(self, case: Case, stage: str, starts: str | datetime, due: str | datetime,
                 state: str = "pending", done: str | datetime | None = None, round_: int = 0,
                 extended_by: str | None = None) -> None:
        def moment(value):
            return t(value) if isinstance(value, str) else value
        self.session.add(Deadline(case_id=case.id, stage=stage, round=round_, starts_at=moment(starts),
                                  due_at=moment(due), state=state, done_at=moment(done) if done else None,
                                  extended_by=extended_by))

    def plan(self, case: Case, opened: str, states: dict[str, tuple[str, str | None]],
             extension: tuple[str, Duration] | None = None) -> dict[str, datetime]:
        """The policy's own plan of deadlines from `opened`, then states; returns the due times."""
        due = {}
        for planned in plan_handling(POLICY, case.kind, case.severity, t(opened)):
            due_at = planned.due_at
            extended_by = None
            if extension and planned.stage not in ("register", "dispatch"):
                due_at, extended_by = POLICY.calendar.add(due_at, extension[1]), str(extension[1])
            due[planned.stage] = due_at
            state, done = states.get(planned.stage, ("pending", None))
            self.deadline(case, planned.stage, planned.starts_at, due_at, state, done,
                          extended_by=extended_by)
        return due

    def event(self, case: Case, kind: str, at: str, actor: str = "system", **detail) -> None:
        self.session.add(CaseEvent(case_id=case.id, kind=kind, at=t(at), actor=actor, detail=detail))

    def correction(self, case: Case, head: str, old: str, predicted: str, new: str, at: str,
                   source: str = "admin") -> None:
        self.session.add(LabelCorrection(case_id=case.id, head=head, old_label=old, predicted_label=predicted,
                                         new_label=new, corrected_by="admin@example.com", source=source,
                                         at=t(at)))


def build_cases(session) -> dict[str, dict]:
    b = Builder(session)
    plans = {}

    s1 = b.case("S1", "09-30 10:00", "complaint", "service_quality", "operations", status="archived",
                customer="a@example.cn", replied_at=t("10-13 17:05"), closed_at=t("10-16 18:00"))
    plans["S1"] = b.plan(s1, "09-30 10:00", {
        "register": ("done", "09-30 10:00"), "dispatch": ("done", "09-30 10:01"),
        "investigate": ("done", "10-13 17:00"), "resolve": ("done", "10-13 17:00"),
        "answer": ("done", "10-13 17:00"), "reply": ("done", "10-13 17:05"),
        "overall": ("cancelled", "10-16 18:00")})
    b.deadline(s1, "follow_up", "10-13 17:05", "10-16 18:00", "done", "10-16 18:00")
    b.deadline(s1, "archive", "10-16 18:00", "10-21 18:00", "done", "10-21 18:00")
    b.event(s1, "department_answer", "10-13 17:00", "operations@recycling.example.com", text="…")
    b.event(s1, "sent_follow_up", "10-16 18:00")
    b.event(s1, "closed", "10-16 18:00")
    b.event(s1, "satisfaction", "10-17 10:00", "a@example.cn", value="satisfied")
    b.correction(s1, "category", "other", "other", "service_quality", "10-01 09:00")

    s2 = b.case("S2", "09-07 10:00", "complaint", "service_quality", "operations", status="closed",
                customer="b@example.cn", reopen_count=1, replied_at=t("10-09 11:00"),
                closed_at=t("10-14 18:00"))
    b.event(s2, "department_answer", "09-08 10:00", "operations@recycling.example.com")
    b.event(s2, "sent_follow_up", "09-11 18:00")
    b.event(s2, "closed", "09-11 18:00")
    b.event(s2, "reopened", "10-05 10:00", "b@example.cn", round=1)
    b.event(s2, "department_answer", "10-09 11:00", "operations@recycling.example.com")
    b.event(s2, "sent_follow_up", "10-14 18:00")
    b.event(s2, "closed", "10-14 18:00")

    s3 = b.case("S3", "09-24 09:00", "complaint", "after_sales", "after_sales")
    b.deadline(s3, "dispatch", "09-24 09:00", "09-29 18:00", "done", "09-28 10:00")
    b.deadline(s3, "answer", "09-29 18:00", "09-30 18:00")

    o1 = b.case("O1", "10-09 10:00", "complaint", "service_quality", "operations", status="closed",
                replied_at=t("10-14 16:02"), closed_at=t("10-19 18:00"))
    b.deadline(o1, "dispatch", "10-09 10:00", "10-12 18:00", "done", "10-09 10:01")
    b.deadline(o1, "answer", "10-14 18:00", "10-15 18:00", "done", "10-14 16:00")
    b.deadline(o1, "reply", "10-15 18:00", "10-16 18:00", "done", "10-14 16:02")
    b.deadline(o1, "overall", "10-09 10:00", "10-29 18:00", "cancelled", "10-19 18:00")
    b.deadline(o1, "follow_up", "10-14 16:02", "10-19 18:00", "done", "10-19 18:00")
    b.event(o1, "department_answer", "10-14 16:00", "operations@recycling.example.com")
    b.event(o1, "sent_follow_up", "10-19 18:00")
    b.event(o1, "closed", "10-19 18:00")
    b.correction(o1, "severity", "normal", "normal", "major", "10-10 09:00")
    b.correction(o1, "severity", "major", "normal", "normal", "10-10 09:30")

    o2 = b.case("O2", "10-12 09:00", "complaint", "pricing_billing", "finance", status="archived",
                customer="c@example.cn", reopen_count=1, replied_at=t("10-28 15:05"),
                closed_at=t("11-02 18:00"))
    b.deadline(o2, "dispatch", "10-12 09:00", "10-14 18:00", "done", "10-12 09:01")
    b.deadline(o2, "answer", "10-19 18:00", "10-22 18:00", "done", "10-22 11:00",
               extended_by="2 working days")  # planned 20 Oct 18:00
    b.deadline(o2, "reply", "10-20 18:00", "10-23 18:00", "done", "10-22 11:05",
               extended_by="2 working days")
    b.deadline(o2, "overall", "10-12 09:00", "11-04 18:00", "cancelled", "10-23 10:00",
               extended_by="2 working days")
    b.deadline(o2, "follow_up", "10-22 11:05", "10-27 18:00", "cancelled", "10-23 10:00")
    b.deadline(o2, "answer", "10-28 18:00", "10-29 18:00", "done", "10-28 15:00", round_=1)
    b.deadline(o2, "reply", "10-29 18:00", "10-30 18:00", "done", "10-28 15:05", round_=1)
    b.deadline(o2, "overall", "10-23 10:00", "11-13 18:00", "cancelled", "11-02 18:00", round_=1)
    b.deadline(o2, "follow_up", "10-28 15:05", "11-02 18:00", "done", "11-02 18:00", round_=1)
    b.deadline(o2, "archive", "11-02 18:00", "11-05 18:00", "done", "11-05 18:00", round_=1)
    b.event(o2, "extended", "10-19 10:00", "finance@recycling.example.com", by="2 working days", late=False)
    b.event(o2, "department_answer", "10-22 11:00", "finance@recycling.example.com")
    b.event(o2, "satisfaction", "10-23 10:00", "c@example.cn", value="unsatisfied")
    b.event(o2, "reopened", "10-23 10:00", "c@example.cn", round=1)
    b.event(o2, "department_answer", "10-28 15:00", "finance@recycling.example.com")
    b.event(o2, "sent_follow_up", "11-02 18:00")
    b.event(o2, "closed", "11-02 18:00")
    b.correction(o2, "department", "operations", "operations", "finance", "10-12 15:00", source="department")

    o3 = b.case("O3", "10-20 10:00", "complaint", "service_quality", "operations", severity="major",
                customer="a@example.cn", repeat_of_id=s1.id)
    b.deadline(o3, "dispatch", "10-20 10:00", "10-20 12:00", "done", "10-20 10:01")
    b.deadline(o3, "answer", "10-22 18:00", "10-27 18:00")
    b.deadline(o3, "overall", "10-20 10:00", "11-03 18:00")

    o4 = b.case("O4", "10-26 14:00", "inquiry", "delivery", "logistics", needs_review=True)
    b.deadline(o4, "dispatch", "10-26 14:00", "10-28 18:00", "done", "10-29 09:00")
    b.deadline(o4, "answer", "10-29 18:00", "11-05 18:00")
    b.correction(o4, "category", "other", "other", "delivery", "10-29 08:50")
    b.correction(o4, "department", "customer_service", "customer_service", "logistics", "10-29 08:55")

    o5 = b.case("O5", "10-13 10:00", "complaint", "staff_misconduct", "hr", status="archived",
                customer="e@example.cn", replied_at=t("10-22 10:05"), closed_at=t("10-27 18:00"))
    plans["O5"] = b.plan(o5, "10-13 10:00", {
        "register": ("done", "10-13 10:00"), "dispatch": ("done", "10-13 10:01"),
        "investigate": ("done", "10-22 10:00"), "resolve": ("done", "10-22 10:00"),
        "answer": ("done", "10-22 10:00"), "reply": ("done", "10-22 10:05"),
        "overall": ("cancelled", "10-27 18:00")}, extension=("10-21 09:00", Duration(2, "working_days")))
    b.deadline(o5, "follow_up", "10-22 10:05", "10-27 18:00", "done", "10-27 18:00")
    b.deadline(o5, "archive", "10-27 18:00", "10-30 18:00", "done", "10-30 18:00")
    b.event(o5, "extended", "10-21 09:00", "hr-head@recycling.example.com", by="2 working days", late=True)
    b.event(o5, "department_answer", "10-22 10:00", "hr-head@recycling.example.com")
    b.event(o5, "sent_follow_up", "10-27 18:00")
    b.event(o5, "closed", "10-27 18:00")
    b.event(o5, "satisfaction", "10-28 09:00", "e@example.cn", value="satisfied")

    o6 = b.case("O6", "10-30 15:00", "complaint", "other", "customer_service", status="out_of_scope",
                closed_at=t("10-30 15:00"))
    b.event(o6, "out_of_scope", "10-30 15:00", rule="in_litigation")
    b.case("O7", "10-31 23:30", "suggestion", "other", "customer_service", confidence={})
    b.case("N1", "11-01 00:30", "praise", "other", "customer_service")
    return plans


def _construct(url: str, tmp_path):
    database = Database(url)
    database.upgrade()
    with database.transaction() as session:
        plans = build_cases(session)
    return write_config(tmp_path, None, None, database_url=url), database, plans


@pytest.fixture(params=["sqlite", "postgres"])
def constructed(request, tmp_path):
    """(config path, database, plans): the set above in a database of its own (figures are
    checked on both databases: the queries are the part that differs)."""
    url = f"sqlite:///{tmp_path / 'stats.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    return _construct(url, tmp_path)


@pytest.fixture
def constructed_sqlite(tmp_path):
    """The same set on SQLite only, for the formats, the command and the browser."""
    return _construct(f"sqlite:///{tmp_path / 'stats.db'}", tmp_path)


def october(database, department=None) -> dict:
    with database.sessions() as session:
        return report_for(session, POLICY, OCTOBER, AS_OF, department)


# --- the figures -------------------------------------------------------------


def test_the_plans_cross_the_holidays_as_worked_out_by_hand(constructed):
    _, _, plans = constructed
    s1 = plans["S1"]  # opened Wed 30 Sep 10:00; 1–7 Oct holidays, Sat 10 Oct a working day
    assert s1["register"] == t("10-08 18:00")
    assert s1["dispatch"] == t("10-09 18:00")
    assert s1["investigate"] == t("10-13 18:00")  # 10 (Sat), 12, 13 Oct
    assert s1["reply"] == t("10-19 18:00")
    assert s1["overall"] == t("10-27 18:00")  # 15 working days: 8 … 27 Oct
    o5 = plans["O5"]  # opened Tue 13 Oct; everything after dispatch moved by 2 working days
    assert o5["dispatch"] == t("10-15 18:00")
    assert o5["investigate"] == t("10-22 18:00")  # planned 20 Oct
    assert o5["answer"] == t("10-27 18:00")  # planned 23 Oct
    assert o5["overall"] == t("11-05 18:00")  # planned 3 Nov: not an October deadline


def test_counts_and_distributions(constructed):
    report = october(constructed[1])
    assert report["total"] == 7  # O1–O7; N1 opened after local midnight
    assert report["by_kind"] == {"complaint": 5, "inquiry": 1, "suggestion": 1, "praise": 0}
    assert {k: v for k, v in report["by_category"].items() if v} == {
        "service_quality": 2, "pricing_billing": 1, "delivery": 1, "staff_misconduct": 1, "other": 2}
    assert list(report["by_category"]) == POLICY.labels.categories  # zeros included, policy order
    assert {k: v for k, v in report["by_department"].items() if v} == {
        "operations": 2, "finance": 1, "logistics": 1, "hr": 1, "customer_service": 2}
    assert report["by_severity"] == {"normal": 6, "major": 1, "urgent": 0}


def test_on_time_rates(constructed):
    on_time = october(constructed[1])["on_time_rate"]
    # Due in October: S1 6 stages, all met (investigate only thanks to the make-up Saturday);
    # O1 dispatch, answer, reply, overall met; O2 dispatch, answer and reply of both rounds met
    # (round 0 after an extension asked in time); O3 dispatch met, answer overdue; O4 dispatch
    # late; O5 dispatch, resolve, answer, reply met, investigate late (extension asked late).
    assert on_time["all"] == {"rate": round(20 / 23, 4), "count": 20, "of": 23}
    assert on_time["by_stage"] == {
        "dispatch": {"rate": round(5 / 6, 4), "count": 5, "of": 6},
        "investigate": {"rate": 0.5, "count": 1, "of": 2},
        "resolve": {"rate": 1.0, "count": 2, "of": 2},
        "answer": {"rate": round(5 / 6, 4), "count": 5, "of": 6},
        "reply": {"rate": 1.0, "count": 5, "of": 5},
        "overall": {"rate": 1.0, "count": 2, "of": 2},
    }
    assert on_time["by_department"] == {
        "finance": {"rate": 1.0, "count": 5, "of": 5},
        "hr": {"rate": 0.8, "count": 4, "of": 5},
        "logistics": {"rate": 0.0, "count": 0, "of": 1},
        "operations": {"rate": round(11 / 12, 4), "count": 11, "of": 12},
    }


def test_resolution_repeats_reopenings_and_satisfaction(constructed):
    report = october(constructed[1])
    # Closed and answered: O1, O2, O5; O2 was answered twice and reopened.
    assert report["first_contact_resolution_rate"] == {"rate": round(2 / 3, 4), "count": 2, "of": 3}
    assert report["repeat_complaint_rate"] == {"rate": 0.2, "count": 1, "of": 5}  # O3 of 5 complaints
    assert report["reopen_rate"] == {"rate": round(1 / 3, 4), "count": 1, "of": 3}  # O2 of O1, O2, O5
    # Verdicts in October: S1 satisfied, S2 reopened (unsatisfied), O2 unsatisfied (one verdict
    # although recorded as satisfaction + reopened), O5 satisfied. Follow-ups sent in October:
    # S1 (answered), S2 (not), O1 (not), O5 (answered); O2's went out on 2 November.
    assert report["satisfaction"] == {
        "rate": {"rate": 0.5, "count": 2, "of": 4},
        "response_rate": {"rate": 0.5, "count": 2, "of": 4},
        "satisfied": 2, "unsatisfied": 2, "follow_ups_sent": 4,
    }


def test_backlog_at_the_end_of_the_period(constructed):
    backlog = october(constructed[1])["backlog"]
    assert backlog["at"] == "2026-11-01T00:00+08:00"
    assert (backlog["open"], backlog["overdue"]) == (5, 2)  # S3, O2, O3, O4, O7; S3 and O3 overdue
    by_department = backlog["by_department"]
    assert by_department["after_sales"] == {"open": 1, "overdue": 1, "oldest": {
        "number": "S3", "created_at": "2026-09-24T09:00+08:00", "age_days": 37}}
    assert by_department["operations"]["open"] == 1 and by_department["operations"]["overdue"] == 1
    assert by_department["operations"]["oldest"]["number"] == "O3"
    assert by_department["finance"] == {"open": 1, "overdue": 0, "oldest": {
        "number": "O2", "created_at": "2026-10-12T09:00+08:00", "age_days": 19}}  # closed 2 Nov
    assert by_department["logistics"]["open"] == 1 and by_department["customer_service"]["open"] == 1
    assert by_department["hr"] == {"open": 0, "overdue": 0, "oldest": None}


def test_classifier_agreement_and_manual_review(constructed):
    classifier = october(constructed[1])["classifier"]
    # Predicted: O1–O6 (O7 has no prediction). Corrected: O4's category and department, O2's
    # department (by the department); O1's severity went back to the prediction.
    assert classifier["agreement"] == {
        "kind": {"rate": 1.0, "count": 6, "of": 6},
        "category": {"rate": round(5 / 6, 4), "count": 5, "of": 6},
        "department": {"rate": round(4 / 6, 4), "count": 4, "of": 6},
        "severity": {"rate": 1.0, "count": 6, "of": 6},
    }
    assert classifier["manual_review"] == {"rate": round(1 / 7, 4), "count": 1, "of": 7}


def test_change_against_september(constructed):
    report = october(constructed[1])
    change = report["change"]
    assert change["previous_period"]["label"] == "2026-09"
    assert change["total"] == {"current": 7, "previous": 3, "delta": 4, "relative": 1.3333}
    # September: S3 dispatch met, S3 answer missed; FCR: S1 yes, S2 (reopened) no; reopen: S2 of
    # S1, S2; no verdict in September; S2's follow-up was answered (in October).
    assert change["on_time_rate"] == {"current": round(20 / 23, 4), "previous": 0.5,
                                      "delta": round(20 / 23 - 0.5, 4)}
    assert change["first_contact_resolution_rate"]["previous"] == 0.5
    assert change["reopen_rate"] == {"current": round(1 / 3, 4), "previous": 0.5, "delta": -0.1667}
    assert change["repeat_complaint_rate"] == {"current": 0.2, "previous": 0.0, "delta": 0.2}
    assert change["satisfaction_rate"] == {"current": 0.5, "previous": None, "delta": None}
    assert change["response_rate"] == {"current": 0.5, "previous": 1.0, "delta": -0.5}
    # At the end of September: S1 (opened 30 Sep) and S3 open, S3 overdue; S2 closed then.
    assert change["backlog_open"] == {"current": 5, "previous": 2, "delta": 3, "relative": 1.5}
    assert change["backlog_overdue"] == {"current": 2, "previous": 1, "delta": 1, "relative": 1.0}
    assert change["by_category"]["after_sales"] == {"current": 0, "previous": 1, "delta": -1,
                                                    "relative": -1.0}
    assert change["by_category"]["pricing_billing"]["relative"] is None


def test_one_department(constructed):
    report = october(constructed[1], "operations")
    assert report["period"]["department"] == "operations"
    assert report["total"] == 2 and report["by_department"] == {"operations": 2}
    assert report["on_time_rate"]["all"] == {"rate": round(11 / 12, 4), "count": 11, "of": 12}
    assert (report["backlog"]["open"], report["backlog"]["overdue"]) == (1, 1)
    assert report["repeat_complaint_rate"] == {"rate": 0.5, "count": 1, "of": 2}


def test_a_running_period_counts_only_what_has_fallen_due(constructed):
    """As of 25 October, O3's answer (due 27 Oct) is not decided yet, and the backlog is now's."""
    with constructed[1].sessions() as session:
        report = report_for(session, POLICY, OCTOBER, t("10-25 12:00"))
    answers = report["on_time_rate"]["by_stage"]["answer"]
    assert (answers["count"], answers["of"]) == (5, 5)  # O3's (pending, due 27 Oct) left out
    assert report["backlog"]["at"] == "2026-10-25T12:00+08:00"


# --- pure pieces -------------------------------------------------------------


def _deadline(stage="answer", due="10-20 18:00", state="pending", done=None, round_=0, starts="10-19 18:00",
              extended_by=None) -> DeadlineRow:
    return DeadlineRow(1, stage, round_, t(starts), t(due), state, t(done) if done else None, extended_by)


def test_stage_outcomes():
    as_of = t("10-21 12:00")
    assert stage_outcome(_deadline(state="done", done="10-20 18:00"), [], [], as_of) is True  # at due
    assert stage_outcome(_deadline(state="done", done="10-20 18:01"), [], [], as_of) is False
    assert stage_outcome(_deadline(), [], [], as_of) is False  # pending, past due
    assert stage_outcome(_deadline(due="10-22 18:00"), [], [], as_of) is None  # not due yet
    assert stage_outcome(_deadline(state="cancelled", done="10-19 09:00"), [], [], as_of) is None
    assert stage_outcome(_deadline(state="cancelled", done="10-21 09:00"), [], [], as_of) is False
    overall = _deadline("overall", due="10-30 18:00", state="cancelled", done="10-25 18:00")
    replies = [_deadline("reply", state="done", done="10-29 09:00"),
               _deadline("reply", state="done", done="10-31 09:00", round_=1)]
    assert stage_outcome(overall, [overall, *replies], [], as_of) is True  # the round-0 reply


def test_a_late_extension_rescues_only_stages_not_yet_overdue():
    investigate = _deadline("investigate", due="10-22 18:00", state="done", done="10-22 10:00",
                            starts="10-15 18:00", extended_by="2 working days")
    resolve = _deadline("resolve", due="10-26 18:00", state="done", done="10-22 10:00",
                        starts="10-20 18:00", extended_by="2 working days")
    answer = _deadline("answer", due="10-27 18:00", state="done", done="10-22 10:00",
                       starts="10-22 18:00", extended_by="2 working days")
    chain = [investigate, resolve, answer]
    late = [(t("10-21 09:00"), 0)]
    assert stage_outcome(investigate, chain, late, AS_OF) is False  # planned 20 Oct, asked 21 Oct
    assert stage_outcome(resolve, chain, late, AS_OF) is True  # planned 22 Oct
    assert stage_outcome(investigate, chain, [(t("10-21 09:00"), 1)], AS_OF) is True  # another round


def test_was_open_follows_the_history():
    case = CaseRow(1, "X", "closed", "complaint", "other", "hr", "normal", False, frozenset(), None, None,
                   1, t("10-01 09:00"), None, None)
    events = [EventRow(1, 1, "closed", t("10-05 09:00"), "system", {}),
              EventRow(2, 1, "reopened", t("10-10 09:00"), "c@example.cn", {}),
              EventRow(3, 1, "closed", t("10-20 09:00"), "system", {})]
    assert [was_open(case, events, t(day)) for day in ("10-01 08:00", "10-03 00:00", "10-07 00:00",
                                                       "10-15 00:00", "10-25 00:00")] == [
        False, True, False, True, False]


def test_periods():
    assert periods.parse("week", "2026-W47", ZONE).first_day == date(2026, 11, 16)
    week = periods.parse("week", "2026-W47", ZONE)
    assert (week.last_day, week.previous().label, week.title) == (
        date(2026, 11, 22), "2026-W46", "2026年第47周（2026年11月16日至2026年11月22日）")
    q4 = periods.parse("quarter", "2026Q4", ZONE)
    assert (q4.first_day, q4.last_day, q4.previous().label, q4.title) == (
        date(2026, 10, 1), date(2026, 12, 31), "2026Q3", "2026年第四季度")
    january = periods.parse("month", "2027-01", ZONE)
    assert (january.previous().label, january.end.isoformat()) == ("2026-12", "2027-02-01T00:00:00+08:00")
    days = periods.between(date(2026, 10, 8), date(2026, 10, 14), ZONE)
    assert (days.previous().first_day, days.previous().last_day) == (date(2026, 10, 1), date(2026, 10, 7))
    assert OCTOBER.start.astimezone(ZoneInfo("UTC")).isoformat() == "2026-09-30T16:00:00+00:00"
    with pytest.raises(ValueError):
        periods.parse("month", "2026-W47", ZONE)


# --- the command and its formats -------------------------------------------


def _stats(config, *arguments) -> str:
    result = CliRunner().invoke(triage, ["--config", str(config), "stats", *arguments,
                                         "--as-of", "2026-11-23T12:00+08:00"])
    assert result.exit_code == 0, result.output
    return result.output


def test_json_keys(constructed_sqlite):
    report = json.loads(_stats(constructed_sqlite[0], "--period", "2026-10", "--format", "json"))
    assert set(report) == {
        "period", "as_of", "total", "by_kind", "by_category", "by_department", "by_severity",
        "on_time_rate", "first_contact_resolution_rate", "repeat_complaint_rate", "reopen_rate",
        "satisfaction", "backlog", "classifier", "change"}
    assert set(report["on_time_rate"]) == {"all", "by_stage", "by_department"}
    assert set(report["satisfaction"]) == {"rate", "response_rate", "satisfied", "unsatisfied",
                                           "follow_ups_sent"}
    assert report["period"]["start"] == "2026-10-01T00:00:00+08:00"
    assert report["total"] == 7


def test_csv_output(constructed_sqlite, tmp_path):
    output = tmp_path / "october.csv"
    _stats(constructed_sqlite[0], "--period", "2026-10", "--format", "csv", "--output", str(output))
    rows = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))
    by_key = {(row["figure"], row["key"]): row for row in rows}
    assert by_key[("total", "")] == {"figure": "total", "key": "", "value": "7", "count": "",
                                          "of": "", "previous": "3", "delta": "4"}
    assert by_key[("on_time_rate", "all")]["value"] == "0.8696"
    assert (by_key[("on_time_rate", "all")]["count"], by_key[("on_time_rate", "all")]["of"]) == ("20", "23")
    assert by_key[("on_time_rate", "stage:investigate")]["value"] == "0.5"
    assert by_key[("by_category", "after_sales")]["previous"] == "1"
    assert by_key[("backlog", "oldest:after_sales")]["value"] == "S3"
    assert by_key[("satisfaction", "rate")]["previous"] == ""  # no verdict in September


def test_table_output(constructed_sqlite):
    text = _stats(constructed_sqlite[0], "--period", "2026-10")
    assert "再生资源回收有限公司 投诉统计 2026年10月（2026-10）" in text
    for expected in ("受理总量", "处理及时率", "87.0%", "20/23", "一次解决率", "66.7%", "服务质量",
                     "期末积压", "售后服务部", "S3", "+4（+133.3%）", "自动分类与人工更正"):
        assert expected in text, expected


def test_the_command_refuses_what_it_cannot_count(constructed_sqlite):
    config = constructed_sqlite[0]
    for arguments, message in ((["--period", "2026-10", "--week", "2026-W40"], "name one period"),
                               (["--from", "2026-10-01"], "--from and --to go together"),
                               (["--period", "October"], "not a month"),
                               (["--department", "sales"], "no department 'sales'")):
        result = CliRunner().invoke(triage, ["--config", str(config), "stats", *arguments])
        assert result.exit_code == 2 and message in result.output, result.output


def test_week_quarter_and_range(constructed_sqlite):
    week = json.loads(_stats(constructed_sqlite[0], "--week", "2026-W42", "--format", "json"))
    assert (week["period"]["label"], week["total"]) == ("2026-W42", 2)  # 12–18 Oct: O2 and O5
    quarter = json.loads(_stats(constructed_sqlite[0], "--quarter", "2026Q4", "--format", "json"))
    assert quarter["total"] == 8 and quarter["change"]["total"]["previous"] == 3
    days = json.loads(_stats(constructed_sqlite[0], "--from", "2026-10-01", "--to", "2026-10-31", "--format", "json"))
    assert days["total"] == 7 and days["change"]["previous_period"]["start"] == "2026-08-31T00:00:00+08:00"


# --- the monthly report mail --------------------------------------------------


def test_due_reports_follow_the_policy():
    now = t("11-01 08:00")
    assert [(name, p.label) for name, p in due_reports(POLICY, now)] == [
        ("monthly", "2026-10"), ("quarterly", "2026Q3")]
    weekly = load_policy("manufacturer")
    assert [(name, p.label) for name, p in due_reports(weekly, now)] == [
        ("weekly", "2026-W43"), ("monthly", "2026-10")]


def test_the_monthly_report_is_queued_once_to_management(constructed_sqlite, tmp_path):
    database = constructed_sqlite[1]
    app = make_app(tmp_path, None, None, database_url=database.url)
    mail_ids = queue_due_reports(app, t("11-02 09:00"))
    assert queue_due_reports(app, t("11-02 10:00")) == []  # once per period
    with database.sessions() as session:
        mails = session.scalars(select(OutgoingMail).where(OutgoingMail.id.in_(mail_ids))).all()
    keys = sorted(m.dedup_key for m in mails)
    assert keys == ["report:monthly:2026-10", "report:quarterly:2026Q3"]
    monthly = next(m for m in mails if m.dedup_key == "report:monthly:2026-10")
    assert monthly.to_addresses == ["gm@recycling.example.com"] and monthly.case_id is None
    assert monthly.subject == "再生资源回收有限公司 投诉处理月报：2026年10月"
    assert "受理总量" in monthly.body_text
    assert monthly.body_html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in monthly.body_html
    assert "http://" not in monthly.body_html and "https://" not in monthly.body_html


def test_no_report_before_the_first_case(tmp_path):
    app = make_app(tmp_path, None, None)
    assert queue_due_reports(app, t("11-02 09:00")) == []


# --- a real run ---------------------------------------------------------------

COMPLAINTS = [
    ("li@example.cn", "回收员态度恶劣", "昨天上门回收的师傅态度特别差，还骂人，要求公司给个说法。"),
    ("wang@example.cn", "回收价格不对", "说好的废纸一块二一斤，结算的时候只给八毛，价格和宣传的不一样，要求退还差价。"),
    ("zhao@example.cn", "预约上门没人来", "预约了周六上午上门回收旧家电，等了一上午也没人来，电话也打不通。"),
]


def test_after_a_real_run_the_report_agrees_with_the_case_list(tmp_path, imap, smtp, monkeypatch):
    from worker.broker import wait_until_idle
    from worker.runner import Runner

    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap.password)
    app = make_app(tmp_path, imap, smtp)
    for sender, subject, body in COMPLAINTS:
        imap.deliver(mail(sender, subject, body))
    Runner(app).run_once(timeout=120)
    config = str(tmp_path / "triage.toml")
    listed = CliRunner().invoke(triage, ["--config", config, "cases", "list", "--format", "jsonl"])
    assert listed.exit_code == 0, listed.output
    cases = [json.loads(line) for line in listed.output.splitlines() if line.strip()]
    assert len(cases) == len(COMPLAINTS)
    today = utcnow().astimezone(ZONE).date()
    result = CliRunner().invoke(triage, ["--config", config, "stats", "--from", str(today - timedelta(days=1)),
                                         "--to", str(today + timedelta(days=1)), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total"] == len(cases)
    categories: dict[str, int] = {}
    for case in cases:
        categories[case["category"]] = categories.get(case["category"], 0) + 1
    assert {k: v for k, v in report["by_category"].items() if v} == categories
    assert report["backlog"]["open"] == len(cases)

    # The `stats.report` actor, through the broker and a worker, a month later: one mail to
    # management, sent; a second run queues nothing.
    runner = Runner(app, ("worker",))
    runner.start_workers()
    month_later = (utcnow() + timedelta(days=32)).isoformat()
    for _ in range(2):
        runner.jobs.mail_reports.send(month_later)
        wait_until_idle(runner.broker, runner.jobs.QUEUES)
    runner.shutdown()
    with app.db.sessions() as session:
        reports = session.scalars(select(OutgoingMail).where(
            OutgoingMail.dedup_key.startswith("report:monthly:"))).all()
    assert [(m.status, m.to_addresses) for m in reports] == [("sent", ["gm@recycling.example.com"])]
    subjects = [message_from_bytes(m.data, policy=email_policy.default)["Subject"] for m in smtp.received
                if "gm@recycling.example.com" in m.rcpt_tos]
    assert subjects.count(reports[0].subject) == 1 and "投诉处理月报" in reports[0].subject


# --- the HTML report in a real browser --------------------------------------------


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        skip_or_fail("chromium is not installed (Debian: apt-get install chromium)")
    return path


def test_the_html_report_renders_in_chromium(constructed_sqlite, tmp_path):
    from PIL import Image

    chromium = _chromium()
    report = october(constructed_sqlite[1])
    page = tmp_path / "report.html"
    page.write_text(render_html(report, POLICY), encoding="utf-8")
    screenshot, pdf = tmp_path / "report.png", tmp_path / "report.pdf"
    browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    for options in ([f"--screenshot={screenshot}", "--window-size=1240,1754"],
                    ["--no-pdf-header-footer", f"--print-to-pdf={pdf}"]):
        subprocess.run([*browser, *options, page.as_uri()], check=True, capture_output=True, timeout=120)
    if os.environ.get("STATS_SCREENSHOT_DIR"):  # to look at it: STATS_SCREENSHOT_DIR=/tmp pytest …
        for path in (screenshot, pdf, page):
            shutil.copy(path, os.environ["STATS_SCREENSHOT_DIR"])
    printed = pdf.read_bytes()  # A4 (595 × 842 points), a few pages
    pages = len(re.findall(rb"/Type\s*/Page\b", printed))
    assert 1 <= pages <= 6, pages
    for box in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", printed):
        width, height = (float(n) for n in box.split()[2:])
        assert abs(width - 595) < 1 and abs(height - 842) < 1, box
    image = Image.open(screenshot).convert("L")
    assert image.size == (1240, 1754)
    histogram = image.histogram()
    dark = sum(histogram[:128]) / (image.size[0] * image.size[1])
    assert 0.01 < dark < 0.6, f"{dark:.1%} of the page is dark: blank or broken"
    assert len(image.resize((124, 175)).getcolors(256)) > 20  # text and charts, not one colour


def test_the_html_report_falls_back_to_codes_without_a_cjk_font(constructed_sqlite, monkeypatch):
    from worker.stats import charts

    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    html = render_html(october(constructed_sqlite[1]), POLICY)
    assert "By category" in html and "data:image/png;base64," in html
    assert "投诉处理统计报告" in html  # the page itself stays Chinese: the browser has its fonts


def test_period_contains_uses_local_midnight():
    period = Period("month", date(2026, 10, 1), date(2026, 10, 31), ZONE)
    assert period.contains(datetime(2026, 10, 31, 15, 59, tzinfo=ZoneInfo("UTC")))
    assert not period.contains(datetime(2026, 10, 31, 16, 0, tzinfo=ZoneInfo("UTC")))


def test_csv_and_table_need_no_database(constructed_sqlite):
    report = october(constructed_sqlite[1])
    assert to_csv(report).splitlines()[0] == "figure,key,value,count,of,previous,delta"
    assert "期末积压" in to_table(report, POLICY)
