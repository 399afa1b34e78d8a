"""Explicit severity signals: words that raise a case to `major` or `urgent`.

A signal is a reason a person can check ("mentions 12315"), so severity is
never lowered by one and never raised without one being reported. DOMAIN §2:
urgent = safety hazard, injury or ongoing harm; major = media, lawsuit,
regulator, group of complainants, large compensation, repeated complaint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from classifier.extract import amount_spans

SEVERITY_ORDER = ("normal", "major", "urgent")
LARGE_COMPENSATION = Decimal(50000)  # 元; a policy may pass its own to detect()


@dataclass(frozen=True)
class Signal:
    name: str  # media, lawsuit, regulator, group, large_compensation, repeat, safety
    level: str  # the severity it raises to at least
    evidence: str  # the words that triggered it, as written

    @property
    def reason(self) -> str:
        return f"{self.name}: {self.evidence}"


_CLAUSE_END = r"[^，。！？,!?\n]"
_SAFETY = (
    r"安全隐患|安全隱患|受伤|受傷|摔伤|摔傷|烫伤|燙傷|划伤|劃傷|砸伤|砸傷|割伤|割傷|撞伤|撞傷|骨折|流血|"
    r"送医|送醫|急诊|急診|人身伤害|人身傷害|起火|着火|著火|失火|火灾|火災|冒烟|冒煙|烧焦|燒焦|"
    r"燃气泄漏|燃氣洩漏|燃气泄露|煤气泄漏|煤氣洩漏|漏气|漏氣|煤气味|煤氣味|燃气味|燃氣味|"
    r"爆炸|触电|觸電|漏电|漏電|电击|電擊|中毒|窒息|坍塌|倒塌|跌倒|摔倒|火花|一氧化碳|有毒|毒气|毒氣|"
    r"咬伤|咬傷|擦伤|擦傷|擦破|夹伤|夾傷|误喝|誤喝|误食|誤食|中暑|被困|困人|困在|鼓包|"
    r"消防通道|安全出口|太危险|太危險|危险品|危險品"
)
_MEDIA = r"媒体|媒體|记者|記者|电视台|電視台|报社|報社|微博|抖音|小红书|小紅書|网上|網上|黑猫投诉|黑貓投訴"
_REGULATOR = (
    r"消协|消協|消费者协会|消費者協會|消費者委員會|消委會|市场监管|市場監管|市场监督|市場監督|"
    r"邮政管理局|郵政管理局|工商局|工商部门|质监局|質監局|物价局|物價局|纪委|紀委|纪检|紀檢|监察|監察|"
    r"信访|信訪|市长热线|市長熱線|主管部门|主管部門|环保局|環保局|政府|有关部门|有關部門|"
    r"消保|消基会|消基會|税务局|稅務局|监管部门|監管部門|劳动监察|勞動監察"
)
_TO = (
    r"(?:向|找|去|打|到|给|給|联系|聯繫|聯絡|拨打|撥打|通过|通過|上报|上報|发到|發到|发给|發給|"
    r"告诉|告訴|发|發|上)"
)
_COMPLAIN = r"(?:投诉|投訴|反映|举报|舉報|申诉|申訴|曝光|报道|報道|发帖|發帖|维权|維權)"
_PEOPLE = (
    r"(?:业主|業主|居民|用户|用戶|客户|客戶|顾客|顧客|乘客|家长|家長|村民|消费者|消費者|"
    r"群众|群眾|会员|會員|学员|學員|住户|住戶|商户|商戶)"
)
_COUNT = r"(?:多|数十|數十|十几|十幾|几十|幾十|[0-9]+|[三四五六七八九十百]+)"

_RULES: tuple[tuple[str, str, str], ...] = (
    ("safety", "urgent", _SAFETY),
    (
        "media",
        "major",
        rf"曝光|记者|記者|热搜|熱搜|{_TO}{_CLAUSE_END}{{0,6}}(?:{_MEDIA})"
        rf"|(?:{_MEDIA}){_CLAUSE_END}{{0,6}}{_COMPLAIN}",
    ),
    (
        "lawsuit",
        "major",
        r"起诉你们|起訴你們|起诉贵|起訴貴|告你们|告你們|法院见|法院見|法律途径|法律途徑|法律程序|"
        r"诉诸法律|訴諸法律|打官司|提起诉讼|提起訴訟|申请仲裁|申請仲裁|报警|報警|报案|報案|"
        r"(?:要|会|會|将|將|去|只能|直接|准备|準備|考虑|考慮)(?:找律师|請律師|请律师)?(?:起诉|起訴)|"
        r"找(?:律师|律師)",
    ),
    (
        "regulator",
        "major",
        r"(?<![0-9A-Za-z])(?:12315|12345|12305|12358|12365|12366)(?![0-9A-Za-z])|"
        rf"{_TO}{_CLAUSE_END}{{0,6}}(?:{_REGULATOR})|(?:{_REGULATOR}){_CLAUSE_END}{{0,8}}{_COMPLAIN}",
    ),
    (
        "group",
        "major",
        rf"(?:多名|多位|众多|眾多|{_COUNT}名|{_COUNT}位|{_COUNT}户|{_COUNT}戶|{_COUNT}家){_CLAUSE_END}{{0,3}}{_PEOPLE}|"
        rf"集体{_COMPLAIN}|集體{_COMPLAIN}|集体起诉|联名|聯名|业主们|業主們|村民们|村民們|大家一起|"
        rf"等{_COUNT}(?:户|戶|人|家|位|名)",
    ),
    (
        "repeat",
        "major",
        r"第[二三四五六七八九十0-9]+次(?:投诉|投訴|反映|来信|來信|反馈|反饋|找你们|找你們|写信|寫信)|"
        r"(?:再次|多次|反复|反覆|屡次|屢次|又一次|重复|重複)(?:投诉|投訴|反映|来信|來信)|"
        r"已经?投诉过|已經?投訴過|投诉了?(?:好几|多|[二三四五0-9])次|投訴了?(?:好幾|多|[二三四五0-9])次|"
        r"(?:投诉|投訴)第[二三四五六七八九十0-9]+次|"
        # The sender counts the same failure coming back (LABELING §5: "这已经是第二次改时间了",
        # "第三次了", "已经发生两次了"); attempts told step by step within one case are not.
        r"第[二三四五六七八九十两兩0-9]+次了|"
        r"(?:这|這)(?:已经|已經)?是[^，。！？,!?\n]{0,3}第[二三四五六七八九十两兩0-9]+次|"
        r"(?:已经|已經)是?[^，。！？,!?\n]{0,4}第[二三四五六七八九十两兩0-9]+次|"
        r"(?:已经|已經)(?:发生|發生|出现|出現|碰到|遇到)(?:过|過)?[二三四五六七八九十两兩0-9]+次",
    ),
)
_COMPILED = tuple((name, level, re.compile(pattern)) for name, level, pattern in _RULES)
_COMPENSATION = re.compile(r"赔偿|賠償|索赔|索賠|赔付|賠付|补偿|補償|损失|損失")
# Not a fact: "幸好没有受伤", "差点摔倒", "如果受伤了谁负责", "新闻上说…着火了".
_NEGATION = re.compile(r"没|沒|未|无|無|不会|不會|别|別|防|避免|以免|免得")
_HYPOTHESIS = re.compile(
    r"如果|要是|万一|萬一|假如|若|会不会|會不會|有没有|有沒有|新闻|新聞|听说|聽說|据说|據說"
)


def detect(text: str, large_compensation: Decimal = LARGE_COMPENSATION) -> list[Signal]:
    """Every signal found in the text, one per kind, in the order of `_RULES`."""
    found = []
    for name, level, pattern in _COMPILED:
        for match in pattern.finditer(text):
            if name != "safety" or _is_fact(text, match.start()):
                found.append(Signal(name, level, match.group(0)))
                break
    compensation = _large_compensation(text, large_compensation)
    if compensation:
        found.append(compensation)
    return found


def _is_fact(text: str, start: int) -> bool:
    """False when the clause before the words makes them a negation, a near miss,
    a hypothesis or hearsay."""
    clause_start = max(text.rfind(mark, 0, start) for mark in "，。！？,!?；;\n") + 1
    if _HYPOTHESIS.search(text[clause_start:start]):
        return False
    return not _NEGATION.search(text[max(clause_start, start - 4) : start])


def _large_compensation(text: str, threshold: Decimal) -> Signal | None:
    if not _COMPENSATION.search(text):
        return None
    large = [span for value, span in amount_spans(text) if value >= threshold]
    if large:
        return Signal("large_compensation", "major", text[large[0][0] : large[0][1]])
    return None


def raise_severity(label: str, signals: list[Signal], labels: tuple[str, ...]) -> str:
    """The model's label raised to the highest signal level the label set knows.

    Labels outside `SEVERITY_ORDER` (another organisation's set) are left as
    they are; the signals are still reported as reasons.
    """
    if label not in SEVERITY_ORDER:
        return label
    best = label
    for signal in signals:
        if signal.level in labels and SEVERITY_ORDER.index(signal.level) > SEVERITY_ORDER.index(best):
            best = signal.level
    return best
