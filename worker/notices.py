"""Every mail the system writes, rendered from templates/ (one Jinja2 file per notice).

A template holds three blocks: `subject`, `text` and `html`. Customers get their own script:
a traditional-Chinese writer's notice is converted with OpenCC after rendering, so every
notice is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import opencc
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class MailDraft:
    kind: str
    to: list[str]
    subject: str
    text: str
    html: str | None
    dedup_key: str
    cc: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def chinese_date(moment: datetime, zone: ZoneInfo, with_time: bool = False) -> str:
    """2026年12月1日（星期二）, optionally with 18:00 — the way Chinese letters write dates."""
    local = moment.astimezone(zone)
    text = f"{local.year}年{local.month}月{local.day}日（星期{WEEKDAYS[local.weekday()]}）"
    return f"{text}{local:%H:%M}" if with_time else text


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )
    return environment


@cache
def _to_traditional() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def render(notice: str, variables: dict, script: str = "simplified") -> tuple[str, str, str]:
    """(subject, text, html) of a notice; converted to traditional script when asked."""
    template = _environment().get_template(f"{notice}.j2")
    context = template.new_context(variables)
    parts = ["".join(template.blocks[name](context)).strip() for name in ("subject", "text", "html")]
    subject, text, html = parts
    if script == "traditional":
        convert = _to_traditional().convert
        subject, text, html = convert(subject), convert(text), convert(html)
    return " ".join(subject.split()), text + "\n", html


def notice_names() -> list[str]:
    return sorted(path.stem for path in TEMPLATE_DIR.glob("*.j2") if not path.stem.startswith("_"))
