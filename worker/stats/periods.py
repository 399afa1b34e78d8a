"""Reporting periods (a month, an ISO week, a quarter or a range of days) in the policy's time zone.

A period runs from local midnight of its first day to local midnight after its last day; the
period before it has the same length (the month, week or quarter before; for a range, as many
days just before).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

KINDS = ("week", "month", "quarter", "range")
QUARTER_NAMES = "一二三四"


@dataclass(frozen=True)
class Period:
    kind: str
    first_day: date
    last_day: date  # inclusive
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=self.zone)

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    @property
    def label(self) -> str:
        """2026-11, 2026-W47, 2026Q4 or 2026-10-01..2026-10-31: stable, for keys and file names."""
        if self.kind == "month":
            return f"{self.first_day:%Y-%m}"
        if self.kind == "week":
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "quarter":
            return f"{self.first_day.year}Q{(self.first_day.month - 1) // 3 + 1}"
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    @property
    def title(self) -> str:
        """The period as a Chinese report names it: 2026年11月, 2026年第四季度 …"""
        first, last = self.first_day, self.last_day
        if self.kind == "month":
            return f"{first.year}年{first.month}月"
        if self.kind == "quarter":
            return f"{first.year}年第{QUARTER_NAMES[(first.month - 1) // 3]}季度"
        span = f"{first.year}年{first.month}月{first.day}日至{last.year}年{last.month}月{last.day}日"
        if self.kind == "week":
            year, week, _ = first.isocalendar()
            return f"{year}年第{week}周（{span}）"
        return span

    def previous(self) -> Period:
        if self.kind == "month":
            return month(_shift_months(self.first_day, -1), self.zone)
        if self.kind == "quarter":
            return quarter(_shift_months(self.first_day, -3), self.zone)
        days = (self.last_day - self.first_day).days + 1
        return Period(self.kind, self.first_day - timedelta(days=days),
                      self.first_day - timedelta(days=1), self.zone)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "label": self.label, "title": self.title,
                "start": self.start.isoformat(), "end": self.end.isoformat(),
                "time_zone": self.zone.key}


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month(day: date, zone: ZoneInfo) -> Period:
    first = day.replace(day=1)
    return Period("month", first, _shift_months(first, 1) - timedelta(days=1), zone)


def quarter(day: date, zone: ZoneInfo) -> Period:
    first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return Period("quarter", first, _shift_months(first, 3) - timedelta(days=1), zone)


def week(day: date, zone: ZoneInfo) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period("week", monday, monday + timedelta(days=6), zone)


def parse(kind: str, text: str, zone: ZoneInfo) -> Period:
    """`2026-11` (month), `2026-W47` (ISO week), `2026Q4` (quarter); ValueError otherwise."""
    text = text.strip()
    if kind == "month" and (found := re.fullmatch(r"(\d{4})-(\d{1,2})", text)):
        return month(date(int(found[1]), int(found[2]), 1), zone)
    if kind == "week" and (found := re.fullmatch(r"(\d{4})-?W(\d{1,2})", text, re.IGNORECASE)):
        return week(date.fromisocalendar(int(found[1]), int(found[2]), 1), zone)
    if kind == "quarter" and (found := re.fullmatch(r"(\d{4})-?Q([1-4])", text, re.IGNORECASE)):
        return quarter(date(int(found[1]), int(found[2]) * 3 - 2, 1), zone)
    raise ValueError(f"not a {kind}: {text!r}")


def between(first_day: date, last_day: date, zone: ZoneInfo) -> Period:
    if last_day < first_day:
        raise ValueError(f"the range ends ({last_day}) before it starts ({first_day})")
    return Period("range", first_day, last_day, zone)


def last_complete(kind: str, now: datetime, zone: ZoneInfo) -> Period:
    """The latest week, month or quarter that ended before `now`."""
    today = now.astimezone(zone).date()
    current = {"week": week, "month": month, "quarter": quarter}[kind](today, zone)
    return current.previous()
