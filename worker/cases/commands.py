"""What a reply says, read from its first line (pure): department commands and satisfaction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.workdays import Duration

_CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                   "九": 9, "十": 10}


@dataclass(frozen=True)
class DepartmentCommand:
    action: str  # answer | reassign | extend | close | approve
    text: str  # the rest of the mail: the answer, the reason, the note
    target: str = ""  # reassign: the department named
    extension: Duration | None = None


def _first_line_and_rest(body: str) -> tuple[str, str]:
    lines = body.strip().splitlines()
    if not lines:
        return "", ""
    return lines[0].strip(), "\n".join(lines[1:]).strip()


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    return _CHINESE_DIGITS.get(text)


def read_department_reply(body: str) -> DepartmentCommand:
    """转派 <部门> / 延期 <N> 个工作日 <原因> / 结案 / 发送; anything else is the answer itself."""
    first, rest = _first_line_and_rest(body)
    if match := re.fullmatch(r"转派[\s:：]*(\S+)\s*(.*)", first):
        return DepartmentCommand("reassign", "\n".join(filter(None, [match.group(2), rest])),
                                 target=match.group(1))
    extend = re.fullmatch(r"延期[\s:：]*(\d+|[一二两三四五六七八九十])\s*个?\s*工作日[\s,，:：]*(.*)", first)
    if extend and _number(extend.group(1)):
        reason = "\n".join(filter(None, [extend.group(2).strip(), rest]))
        return DepartmentCommand("extend", reason,
                                 extension=Duration(_number(extend.group(1)), "working_days"))
    if match := re.fullmatch(r"结案[\s:：]*(.*)", first):
        return DepartmentCommand("close", "\n".join(filter(None, [match.group(1), rest])))
    if re.fullmatch(r"(同意)?发送[。.!！]?", first):
        return DepartmentCommand("approve", rest)
    return DepartmentCommand("answer", body.strip())


_UNSATISFIED = re.compile(
    r"不满意|不太满意|没解决|没有解决|未解决|不认可|不接受|还是不行|还没好|差评|非常失望|太失望|敷衍"
    r"|不滿意|沒解決|沒有解決|^\s*[12]\s*分?\s*$|[打给給]\s*[12]\s*分|(?<!\d)[12]\s*分(?!\d)",
    re.MULTILINE,
)
_SATISFIED = re.compile(
    r"(?<!不)(?<!不太)满意|(?<!不)滿意|已解决|解决了|已經解決|已经解决|谢谢|感谢|謝謝|好评"
    r"|^\s*[345]\s*分?\s*$|[打给給]\s*[45]\s*分|(?<!\d)[45]\s*分(?!\d)",
    re.MULTILINE,
)


def read_satisfaction(body: str) -> str | None:
    """'unsatisfied', 'satisfied', or None when the customer says neither (more information)."""
    first_part = body.strip()[:300]
    if _UNSATISFIED.search(first_part):
        return "unsatisfied"
    if _SATISFIED.search(first_part):
        return "satisfied"
    return None
