"""Keeping only what the sender wrote: quoted history and signatures removed.

Chinese clients mark the replied-to mail in their own ways (QQ/Foxmail
"原始邮件" rulers, Outlook's 发件人/发送时间 block, iPhone's "在…写道："),
so the markers below cover them as well as the English ones.
"""

from __future__ import annotations

import re

_COLON = "[:：]"
# A ruler line that starts the replied-to or forwarded mail.
_RULER = re.compile(
    r"^\s*-{2,}\s*(原始邮件|原邮件|邮件原文|转发邮件信息|转发的邮件|Original\s+Message|Original"
    r"|Forwarded\s+[Mm]essage)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_BEGIN_FORWARD = re.compile(r"^\s*Begin forwarded message\s*:\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(rf"^\s*\**\s*(发件人|From)\s*\**\s*{_COLON}", re.IGNORECASE)
_OUTLOOK_FIELD = re.compile(
    rf"^\s*\**\s*(发送时间|发送日期|日期|时间|Sent|Date|收件人|To|抄送|Cc|主题|Subject)\s*\**\s*{_COLON}",
    re.IGNORECASE,
)
# "在 2026年11月3日 周二 10:12，张三 <a@qq.com> 写道：", "On Tue, … wrote:", Gmail's
# "张三 <a@qq.com> 于2026年11月3日周二 10:12写道：". A time or an address must
# appear, so a customer's own "宣传单上写道：" stays.
_ATTRIBUTION_END = re.compile(rf"(写道|wrote)\s*{_COLON}?\s*$", re.IGNORECASE)
_TIME_OR_ADDRESS = re.compile(r"\d{1,2}:\d{2}|@")
_ATTRIBUTION_START = re.compile(r"^\s*(在|On\s)", re.IGNORECASE)
_SEPARATOR_LINE = re.compile(r"^\s*(_{8,}|-{8,}|={8,})\s*$")
_SIGNATURE_SEPARATOR = re.compile(r"^--\s?$")
_DEVICE = r"(iPhone|iPad|iPod|Mac|Android\S*|[\w ]{0,12}(手机|平板)|HUAWEI\S*|Galaxy\S*)"
_MOBILE_FOOTER = re.compile(
    rf"^\s*(发自我的\s*{_DEVICE}|从我的\s*{_DEVICE}\s*发送"
    r"|(发自|来自)\s*(手机)?\s*(QQ\s*邮箱|网易邮箱(大师|手机版)?|Foxmail|139邮箱|新浪邮箱)(\S{0,6})"
    r"|Sent from my .{1,40}|Sent from (Mail|Outlook|Yahoo Mail) for .{1,20}"
    r"|(Get|获取)\s*Outlook\s*for\s*\S+)\s*$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The sender's own words: history, `>` lines, signature and phone footers removed.

    If nothing would be left (a bare forward), the text is kept whole.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = lines[: _history_start(lines)]
    lines = lines[: _signature_start(lines)]
    own = [line for line in lines if not line.lstrip().startswith(">")
           and not _MOBILE_FOOTER.match(line)]
    stripped = "\n".join(own).strip()
    return stripped if stripped else text.strip()


def _history_start(lines: list[str]) -> int:
    """Index of the first line of quoted history, or len(lines) when there is none."""
    for index in range(len(lines)):
        if _starts_history(lines, index):
            return _include_ruler_above(lines, index)
    return len(lines)


def _starts_history(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _RULER.match(line) or _BEGIN_FORWARD.match(line):
        return True
    if _OUTLOOK_FROM.match(line):
        following = lines[index + 1:index + 7]
        return sum(1 for field in following if _OUTLOOK_FIELD.match(field)) >= 2
    # The attribution may be wrapped: "在 …，张三 <" / "a@qq.com> 写道：".
    return _is_attribution(line) or (
        index + 1 < len(lines) and _is_attribution(line + lines[index + 1])
        and bool(_ATTRIBUTION_START.match(line))
    )


def _is_attribution(text: str) -> bool:
    if len(text) > 300 or not _ATTRIBUTION_END.search(text):
        return False
    introduced = _ATTRIBUTION_START.match(text) or "于" in text or "@" in text
    return bool(introduced and _TIME_OR_ADDRESS.search(text))


def _include_ruler_above(lines: list[str], index: int) -> int:
    """Step back over blank lines and the ____ rule Outlook puts above its header block."""
    while index > 0 and (not lines[index - 1].strip() or _SEPARATOR_LINE.match(lines[index - 1])):
        index -= 1
    return index


def _signature_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if _SIGNATURE_SEPARATOR.match(line):
            return index
    return len(lines)
