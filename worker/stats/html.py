"""The HTML report: one self-contained page (charts embedded as data URIs, no network), in
Chinese, readable in a browser and printable on A4. Template: templates/reports/report.html.jinja.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from worker.notices import TEMPLATE_DIR
from worker.policy import Policy
from worker.stats import charts
from worker.stats.agreement import HEADS
from worker.stats.formats import FIGURE_TITLES, HEAD_TITLES, label_title, local_time, percent, signed
from worker.stats.report import BREAKDOWNS, COMPARED
from worker.stats.timeliness import MEASURED_STAGES

TEMPLATE = "reports/report.html.jinja"
# Which way is better, for colouring the change; the total is neither.
HIGHER_IS_BETTER = {"on_time_rate", "first_contact_resolution_rate", "satisfaction_rate", "response_rate"}
LOWER_IS_BETTER = {"repeat_complaint_rate", "reopen_rate", "manual_review_share", "backlog_open",
                   "backlog_overdue"}

DEFINITIONS = (
    ("受理总量", "统计期内新登记的案件数，含咨询、建议、表扬及不予受理的来信；分布按当前标签统计。"),
    ("处理及时率", "统计期内到期的各环节时限中按时完成的比例。时限已包含按规定提前申请的延期；"
                   "环节逾期后才申请延期的，该环节仍计为超时。到期前因结案或重新处理而取消的环节不计入，"
                   "到期仍未完成的计为超时。“整体办结”以答复送达客户为准。登记、回访、归档由系统自动完成，不计入。"),
    ("一次解决率", "统计期内登记、现已结案且有部门答复的案件中，只经一次部门答复、"
                   "未经二次处理即结案的比例。"),
    ("重复投诉率", "统计期内登记的投诉中，同一客户在规定期限内就同类问题再次投诉的比例。"),
    ("二次处理率", "统计期内登记、已答复客户的案件中，因客户不满意而重新处理过的比例。"),
    ("满意率", "统计期内客户作出的评价中“满意”的比例；结案后客户来信要求重新处理的，计为不满意。"),
    ("回访应答率", "统计期内发出的回访中得到客户答复的比例。"),
    ("期末积压", "统计期结束时尚未办结的案件（含等待回访的），按当前承办部门统计；"
                 "“超时”指有环节已过时限仍未完成。"),
    ("自动分类一致率", "统计期内登记的案件中，自动分类结果未被管理员或部门（转派）更正的比例，分项计算。"),
    ("转人工分类占比", "统计期内登记的案件中，因自动分类把握不足而转客户服务中心人工分类的比例。"),
    ("上期", "长度相同的前一统计期（上月、上周、上季度或等长的前一段日期）；比率的变化以百分点表示。"),
)


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(report: dict, policy: Policy) -> str:
    return _environment().get_template(TEMPLATE).render(**view(report, policy))


def _trend(name: str, delta: float | None) -> str:
    if not delta:
        return "flat"
    if name in HIGHER_IS_BETTER:
        return "good" if delta > 0 else "bad"
    if name in LOWER_IS_BETTER:
        return "bad" if delta > 0 else "good"
    return "flat"


def _cards(report: dict) -> list[dict]:
    cards = []
    for name, path in COMPARED.items():
        entry = report["change"][name]
        is_rate = path[-1] == "rate"
        holder = report
        for key in path[:-1]:
            holder = holder[key]
        counted = f"{holder['count']}/{holder['of']}" if is_rate else ""
        cards.append({"title": FIGURE_TITLES[name], "counted": counted,
                      "value": percent(entry["current"]) if is_rate else entry["current"],
                      "previous": percent(entry["previous"]) if is_rate else entry["previous"],
                      "change": signed(entry, is_rate), "trend": _trend(name, entry["delta"])})
    return cards


def _charts(report: dict, policy: Policy) -> list[dict]:
    """{title, src (a data URI), wide}; in English with label codes when no CJK font can draw them."""
    cjk = charts.cjk_font() is not None

    def say(chinese: str, english: str) -> str:
        return chinese if cjk else english

    def names(head: str, codes) -> list[str]:
        return [label_title(policy, head, code) if cjk else code for code in codes]

    categories, by_category = list(report["by_category"]), report["change"]["by_category"]
    on_time = report["on_time_rate"]["by_stage"]
    backlog = report["backlog"]["by_department"]
    wide = [
        (say("按类别（本期与上期）", "By category"), charts.horizontal_bars(
            say("按类别（本期与上期）", "By category"), names("category", categories),
            [report["by_category"][c] for c in categories],
            previous=[by_category[c]["previous"] for c in categories],
            legend=(say("本期", "this period"), say("上期", "previous period")), wide=True)),
    ]
    narrow = [
        (say("按部门", "By department"), charts.horizontal_bars(
            say("按部门", "By department"), names("department", report["by_department"]),
            list(report["by_department"].values()))),
        (say("期末积压", "Backlog"), charts.stacked_backlog(
            say("期末积压", "Backlog"), names("department", backlog),
            [e["open"] - e["overdue"] for e in backlog.values()], [e["overdue"] for e in backlog.values()],
            legend=(say("未超时", "not overdue"), say("超时", "overdue")))),
        (say("各环节处理及时率", "On time, by stage"), charts.horizontal_bars(
            say("各环节处理及时率", "On time, by stage"), names("stage", MEASURED_STAGES),
            [on_time[s]["rate"] or 0 for s in MEASURED_STAGES], percent=True,
            notes=[f"{percent(on_time[s]['rate'], 0)} ({on_time[s]['count']}/{on_time[s]['of']})"
                   for s in MEASURED_STAGES])),
        (say("按类型与严重程度", "By kind and severity"), charts.side_by_side([
            (say("按类型", "By kind"), names("kind", report["by_kind"]), list(report["by_kind"].values())),
            (say("按严重程度", "By severity"), names("severity", report["by_severity"]),
             list(report["by_severity"].values()))])),
    ]
    return [{"title": title, "src": src, "wide": is_wide}
            for is_wide, drawn in ((True, wide), (False, narrow)) for title, src in drawn if src]


def _breakdowns(report: dict, policy: Policy) -> list[dict]:
    total = report["total"]
    tables = []
    for figure, head in BREAKDOWNS.items():
        previous = report["change"]["by_category"] if figure == "by_category" else {}
        tables.append({"title": FIGURE_TITLES[figure], "head": HEAD_TITLES[head],
                       "with_previous": bool(previous), "rows": [
                           {"label": label_title(policy, head, code), "count": n,
                            "share": percent(n / total if total else None),
                            "previous": previous[code]["previous"] if previous else None}
                           for code, n in report[figure].items()]})
    return tables


def _ratio(ratio: dict) -> dict:
    return {"rate": percent(ratio["rate"]), "counted": f"{ratio['count']}/{ratio['of']}"}


def view(report: dict, policy: Policy) -> dict:
    period = report["period"]
    on_time = report["on_time_rate"]
    return {
        "organisation": policy.organisation.name,
        "period": period,
        "department": policy.department_title(period["department"]) if period["department"] else None,
        "as_of": local_time(report["as_of"]),
        "start": local_time(period["start"]),
        "end": local_time(period["end"]),
        "backlog_at": local_time(report["backlog"]["at"]),
        "previous": report["change"]["previous_period"],
        "cards": _cards(report),
        "charts": _charts(report, policy),
        "breakdowns": _breakdowns(report, policy),
        "on_time_stages": [{"label": label_title(policy, "stage", s), **_ratio(on_time["by_stage"][s])}
                           for s in MEASURED_STAGES],
        "on_time_departments": [{"label": label_title(policy, "department", d), **_ratio(r)}
                                for d, r in on_time["by_department"].items()],
        "on_time_all": _ratio(on_time["all"]),
        "satisfaction": report["satisfaction"],
        "backlog": report["backlog"],
        "backlog_rows": [{"label": label_title(policy, "department", code), **entry,
                          "since": local_time(entry["oldest"]["created_at"]) if entry["oldest"] else ""}
                         for code, entry in report["backlog"]["by_department"].items()],
        "agreement": [{"label": HEAD_TITLES[h], **_ratio(report["classifier"]["agreement"][h])}
                      for h in HEADS],
        "manual_review": _ratio(report["classifier"]["manual_review"]),
        "definitions": DEFINITIONS,
        "charts_missing": not charts.available(),
    }
