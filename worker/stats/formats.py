"""The report as JSON, CSV and a text table (pure). The HTML report is `worker.stats.html`."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console
from rich.table import Table

from worker.cases.letters import STAGE_TITLES
from worker.policy import Policy
from worker.stats.agreement import HEADS
from worker.stats.report import BREAKDOWNS, COMPARED
from worker.stats.timeliness import MEASURED_STAGES

FIGURE_TITLES = {
    "total": "受理总量", "by_kind": "按类型", "by_category": "按类别", "by_department": "按部门",
    "by_severity": "按严重程度", "on_time_rate": "处理及时率",
    "first_contact_resolution_rate": "一次解决率", "repeat_complaint_rate": "重复投诉率",
    "reopen_rate": "二次处理率", "satisfaction_rate": "满意率", "response_rate": "回访应答率",
    "manual_review_share": "转人工分类占比", "backlog_open": "期末积压（未办结）",
    "backlog_overdue": "其中超时",
}
HEAD_TITLES = {"kind": "类型", "category": "类别", "department": "部门", "severity": "严重程度"}
CSV_COLUMNS = ("figure", "key", "value", "count", "of", "previous", "delta")


def to_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def local_time(iso: str) -> str:
    """2026-11-23T12:00:00+08:00 → 2026-11-23 12:00 (the time zone is the policy's)."""
    return iso[:16].replace("T", " ")


def percent(rate: float | None, digits: int = 1) -> str:
    return "—" if rate is None else f"{rate * 100:.{digits}f}%"


def signed(entry: dict, is_rate: bool) -> str:
    """The change against the previous period: +2 (+20.0%) for counts, +5.0 个百分点 for rates."""
    delta = entry["delta"]
    if delta is None:
        return "—"
    if is_rate:
        return f"{delta * 100:+.1f} 个百分点"
    relative = entry.get("relative")
    return f"{delta:+d}" + (f"（{relative * 100:+.1f}%）" if relative is not None else "")


def label_title(policy: Policy, head: str, code: str) -> str:
    if head == "department":
        return policy.department_title(code)
    if head == "stage":
        return STAGE_TITLES.get(code, code)
    return policy.label_title(code)


# --- CSV ------------------------------------------------------------------


def _ratio_row(figure: str, key: str, ratio: dict, change: dict | None = None) -> tuple:
    previous = delta = ""
    if change is not None:
        previous, delta = change["previous"], change["delta"]
    return (figure, key, ratio["rate"], ratio["count"], ratio["of"], previous, delta)


def csv_rows(report: dict) -> list[tuple]:
    change = report["change"]
    rows = [("period", key, report["period"][key], "", "", "", "")
            for key in ("label", "start", "end", "time_zone", "department")]
    rows.append(("as_of", "", report["as_of"], "", "", "", ""))
    rows.append(("total", "", report["total"], "", "", change["total"]["previous"],
                 change["total"]["delta"]))
    for figure in BREAKDOWNS:
        for label, n in report[figure].items():
            previous = change["by_category"][label] if figure == "by_category" else None
            rows.append((figure, label, n, "", "", *((previous["previous"], previous["delta"])
                                                     if previous else ("", ""))))
    on_time = report["on_time_rate"]
    rows.append(_ratio_row("on_time_rate", "all", on_time["all"], change["on_time_rate"]))
    rows += [_ratio_row("on_time_rate", f"stage:{s}", r) for s, r in on_time["by_stage"].items()]
    rows += [_ratio_row("on_time_rate", f"department:{d}", r) for d, r in on_time["by_department"].items()]
    for figure in ("first_contact_resolution_rate", "repeat_complaint_rate", "reopen_rate"):
        rows.append(_ratio_row(figure, "", report[figure], change[figure]))
    satisfaction = report["satisfaction"]
    rows.append(_ratio_row("satisfaction", "rate", satisfaction["rate"], change["satisfaction_rate"]))
    rows.append(_ratio_row("satisfaction", "response_rate", satisfaction["response_rate"],
                           change["response_rate"]))
    rows += [("satisfaction", key, satisfaction[key], "", "", "", "")
             for key in ("satisfied", "unsatisfied", "follow_ups_sent")]
    backlog = report["backlog"]
    rows.append(("backlog", "at", backlog["at"], "", "", "", ""))
    for key in ("open", "overdue"):
        entry = change[f"backlog_{key}"]
        rows.append(("backlog", key, backlog[key], "", "", entry["previous"], entry["delta"]))
    for code, entry in backlog["by_department"].items():
        rows.append(("backlog", f"open:{code}", entry["open"], "", "", "", ""))
        rows.append(("backlog", f"overdue:{code}", entry["overdue"], "", "", "", ""))
        if entry["oldest"]:
            rows.append(("backlog", f"oldest:{code}", entry["oldest"]["number"], "", "", "", ""))
            rows.append(("backlog", f"oldest_age_days:{code}", entry["oldest"]["age_days"], "", "", "", ""))
    classifier = report["classifier"]
    rows += [_ratio_row("classifier", f"agreement:{h}", r) for h, r in classifier["agreement"].items()]
    rows.append(_ratio_row("classifier", "manual_review", classifier["manual_review"],
                           change["manual_review_share"]))
    return rows


def to_csv(report: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(("" if value is None else value for value in row) for row in csv_rows(report))
    return buffer.getvalue()


# --- text table -----------------------------------------------------------


def _ratio_cell(ratio: dict) -> tuple[str, str]:
    return percent(ratio["rate"]), f"{ratio['count']}/{ratio['of']}"


def _summary(report: dict) -> Table:
    change = report["change"]
    table = Table("指标", "本期", "计数", "上期", "变化", title="概况", title_justify="left")
    for name, path in COMPARED.items():
        entry = change[name]
        is_rate = path[-1] == "rate"
        if is_rate:
            ratio = report
            for key in path[:-1]:
                ratio = ratio[key]
            value, counted = _ratio_cell(ratio)
            previous = percent(entry["previous"])
        else:
            value, counted, previous = str(entry["current"]), "", str(entry["previous"])
        table.add_row(FIGURE_TITLES[name], value, counted, previous, signed(entry, is_rate))
    return table


def _breakdown(report: dict, policy: Policy, figure: str) -> Table:
    head = BREAKDOWNS[figure]
    total = report["total"]
    table = Table(HEAD_TITLES[head], "数量", "占比", title=FIGURE_TITLES[figure], title_justify="left")
    for label, n in report[figure].items():
        table.add_row(label_title(policy, head, label), str(n), percent(n / total if total else None))
    return table


def _on_time(report: dict, policy: Policy) -> Table:
    on_time = report["on_time_rate"]
    table = Table("环节 / 部门", "及时率", "按时/应办", title=FIGURE_TITLES["on_time_rate"],
                  title_justify="left")
    table.add_row("全部环节", *_ratio_cell(on_time["all"]))
    for stage in MEASURED_STAGES:
        table.add_row(label_title(policy, "stage", stage), *_ratio_cell(on_time["by_stage"][stage]))
    table.add_section()
    for code, ratio in on_time["by_department"].items():
        table.add_row(label_title(policy, "department", code), *_ratio_cell(ratio))
    return table


def _backlog(report: dict, policy: Policy) -> Table:
    backlog = report["backlog"]
    table = Table("部门", "未办结", "超时", "最早的案件", "已开天数",
                  title=f"期末积压（截至 {local_time(backlog['at'])}）", title_justify="left")
    for code, entry in backlog["by_department"].items():
        oldest = entry["oldest"] or {}
        table.add_row(label_title(policy, "department", code), str(entry["open"]), str(entry["overdue"]),
                      oldest.get("number", ""), str(oldest.get("age_days", "")))
    return table


def _classifier(report: dict) -> Table:
    classifier = report["classifier"]
    table = Table("分类项", "与人工一致", "未更正/已预测", title="自动分类与人工更正", title_justify="left")
    for head in HEADS:
        table.add_row(HEAD_TITLES[head], *_ratio_cell(classifier["agreement"][head]))
    table.add_row(FIGURE_TITLES["manual_review_share"], *_ratio_cell(classifier["manual_review"]))
    return table


def to_table(report: dict, policy: Policy, width: int = 100) -> str:
    period = report["period"]
    scope = f"  部门：{policy.department_title(period['department'])}" if period["department"] else ""
    satisfaction = report["satisfaction"]
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(f"{policy.organisation.name} 投诉统计 {period['title']}（{period['label']}）{scope}")
    console.print(f"统计时间 {local_time(report['as_of'])}（{period['time_zone']}）；"
                  f"上期 {report['change']['previous_period']['title']}")
    console.print(_summary(report))
    for figure in BREAKDOWNS:
        console.print(_breakdown(report, policy, figure))
    console.print(_on_time(report, policy))
    console.print(f"回访：发出 {satisfaction['follow_ups_sent']} 次，满意 {satisfaction['satisfied']}，"
                  f"不满意 {satisfaction['unsatisfied']}")
    console.print(_backlog(report, policy))
    console.print(_classifier(report))
    return console.file.getvalue()
