"""Working-time calendar for case deadlines (DOMAIN.md §5).

Pure: the caller passes the time zone, the business hours and the policy's extra
holidays and workdays; nothing here reads configuration or the database.
Statutory holidays and make-up working days (调休) come from `chinese_calendar`.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

logger = logging.getLogger("triage.workdays")

WORKING_UNITS = ("working_days", "working_hours", "working_minutes")
CALENDAR_UNITS = ("days", "hours", "minutes")
UNITS = WORKING_UNITS + CALENDAR_UNITS

DEFAULT_BUSINESS_HOURS = ((time(9), time(12)), (time(13), time(18)))

# The longest statutory break is about nine days; a policy that closes for longer
# than a year is a typo, and without a bound the search would never end.
_MAX_DAYS_WITHOUT_WORK = 366

_SECONDS_PER_UNIT = {"working_hours": 3600, "working_minutes": 60}


# --- durations -------------------------------------------------------------


@dataclass(frozen=True)
class Duration:
    """A span of time from the policy, e.g. Duration(2, "working_days")."""

    amount: int | float
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown duration unit {self.unit!r}; expected one of {UNITS}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int | float):
            raise TypeError(f"duration amount must be a number, got {self.amount!r}")
        if not math.isfinite(self.amount) or self.amount < 0:
            raise ValueError(f"duration amount must be a finite number >= 0, got {self.amount!r}")
        # A civil-code period counts whole days; half a working day has no end time.
        if self.unit == "working_days" and self.amount != int(self.amount):
            raise ValueError(f"working_days must be a whole number, got {self.amount!r}")

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        words = self.unit.replace("_", " ")
        return f"{amount} {words[:-1] if amount == 1 else words}"


_ENGLISH_DURATION = re.compile(
    r"([0-9]+(?:\.[0-9]+)?)\s*(working[\s_]+)?(day|hour|minute)s?", re.IGNORECASE
)
_CHINESE_DURATION = re.compile(
    r"([0-9]+(?:\.[0-9]+)?|[零一二两三四五六七八九十]+)\s*个?\s*"
    r"(工作日|工作小时|工作分钟|自然日|小时|钟头|分钟|天|日)"
)
_CHINESE_UNITS = {
    "工作日": "working_days",
    "工作小时": "working_hours",
    "工作分钟": "working_minutes",
    "自然日": "days",
    "天": "days",
    "日": "days",
    "小时": "hours",
    "钟头": "hours",
    "分钟": "minutes",
}
_CHINESE_NUMERAL = re.compile(r"(?:([一二两三四五六七八九])?十)?([零一二两三四五六七八九])?")
_CHINESE_DIGITS = dict(zip("零一二三四五六七八九", range(10), strict=True)) | {"两": 2}


def parse_duration(text: str) -> Duration:
    """Read "2 working days", "24 hours", "30 minutes", "2个工作日", "24小时", "三天"…"""
    # NFKC folds full-width digits (２个工作日) typed with a Chinese input method.
    cleaned = unicodedata.normalize("NFKC", str(text)).strip()
    if match := _ENGLISH_DURATION.fullmatch(cleaned):
        number, working, unit = match.groups()
        return Duration(_number(number), f"{'working_' if working else ''}{unit.lower()}s")
    if match := _CHINESE_DURATION.fullmatch(cleaned):
        number, unit = match.groups()
        amount = _number(number) if number[0].isdigit() else _chinese_number(number, text)
        return Duration(amount, _CHINESE_UNITS[unit])
    raise ValueError(
        f"cannot read duration {text!r}: write a number and a unit, e.g. '2 working days', "
        "'4 working hours', '30 working minutes', '3 days', '24 hours', '30 minutes', "
        "'2个工作日', '24小时', '30分钟'"
    )


def _number(digits: str) -> int | float:
    return float(digits) if "." in digits else int(digits)


def _chinese_number(numeral: str, text: str) -> int:
    """一 … 九十九, the range a time limit is written in."""
    match = _CHINESE_NUMERAL.fullmatch(numeral)
    if not match:
        raise ValueError(f"cannot read the number {numeral!r} in duration {text!r}")
    tens, units = match.groups()
    tens_value = _CHINESE_DIGITS[tens] if tens else int("十" in numeral)
    return tens_value * 10 + (_CHINESE_DIGITS[units] if units else 0)


# --- statutory calendar ----------------------------------------------------


@functools.cache
def has_statutory_data(year: int) -> bool:
    """Whether chinese_calendar has the State Council's holidays and make-up days (调休) for
    the year; they are published each year for the next, usually in November or December."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@functools.cache
def _package_covers(year: int) -> bool:
    """`has_statutory_data`, warning once per year it is missing."""
    if not has_statutory_data(year):
        logger.warning(
            "chinese_calendar has no holiday data for %d: working days fall back to "
            "Monday-Friday with the policy's extra_holidays and extra_workdays",
            year,
        )
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _statutory_workday(day: date) -> bool | None:
    """The official answer for the day, or None where the package has no data."""
    if not _package_covers(day.year):
        return None
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


# --- the calendar ----------------------------------------------------------


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and business hours of one organisation, in its time zone.

    Accepts lists, sets, "HH:MM" strings and ISO date strings; stores them as
    tuples and frozensets so that a calendar is hashable and immutable.
    """

    tz: str = "Asia/Shanghai"
    business_hours: tuple[tuple[time, time], ...] = DEFAULT_BUSINESS_HOURS
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise ValueError(f"unknown time zone {self.tz!r}") from error
        object.__setattr__(self, "business_hours", _business_blocks(self.business_hours))
        object.__setattr__(self, "extra_holidays", _dates(self.extra_holidays))
        object.__setattr__(self, "extra_workdays", _dates(self.extra_workdays))
        if both := self.extra_holidays & self.extra_workdays:
            raise ValueError(f"dates both holiday and workday: {sorted(both)}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)  # zoneinfo caches instances by key

    def is_workday(self, day: date) -> bool:
        if isinstance(day, datetime):
            raise TypeError("is_workday takes a date; convert the instant to local time first")
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        statutory = _statutory_workday(day)
        return day.weekday() < 5 if statutory is None else statutory

    def next_workday(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for offset in range(1, _MAX_DAYS_WITHOUT_WORK + 1):
            candidate = day + timedelta(days=offset)
            if self.is_workday(candidate):
                return candidate
        raise ValueError(
            f"no working day within {_MAX_DAYS_WITHOUT_WORK} days after {day}; "
            "check the policy's extra_holidays"
        )

    def next_business_moment(self, moment: datetime) -> datetime:
        """`moment` itself inside business hours, otherwise the next block's start."""
        local = self._local(moment)
        block_start, _ = next(self._blocks_from(local))
        return max(block_start, local)

    def add(self, start: datetime, duration: Duration | str) -> datetime:
        """The deadline `duration` after `start`, in the calendar's time zone."""
        if isinstance(duration, str):
            duration = parse_duration(duration)
        local = self._local(start)
        if duration.unit == "working_days":
            return self._add_working_days(local, int(duration.amount))
        if duration.unit in _SECONDS_PER_UNIT:
            seconds = duration.amount * _SECONDS_PER_UNIT[duration.unit]
            return self.add_business_seconds(local, seconds)
        if duration.unit == "days":
            # Wall-clock days: "3 days" from 10:00 ends at 10:00 even across a DST change.
            return local + timedelta(days=duration.amount)
        elapsed = timedelta(**{duration.unit: duration.amount})
        return (local.astimezone(UTC) + elapsed).astimezone(self.zone)

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """Consume `seconds` of business time from `start`.

        A result exactly at the end of a block stays there (18:00, not 09:00 next day).
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        local = self._local(start)
        remaining = float(seconds)
        for block_start, block_end in self._blocks_from(local):
            cursor = max(block_start, local)
            room = (block_end - cursor).total_seconds()
            if remaining <= room:
                return cursor + timedelta(seconds=remaining)
            remaining -= room
        raise AssertionError("unreachable: _blocks_from never ends")

    def business_seconds_between(self, earlier: datetime, later: datetime) -> float:
        """Business time from `earlier` to `later`; 0 when `later` is not after it."""
        earlier, later = self._local(earlier), self._local(later)
        total = 0.0
        if later <= earlier:
            return total
        for block_start, block_end in self._blocks_from(earlier):
            if block_start >= later:
                break
            total += (min(block_end, later) - max(block_start, earlier)).total_seconds()
        return total

    def _add_working_days(self, local: datetime, days: int) -> datetime:
        # 民法典 第二百零一条: the day the period starts is not counted, counting begins the
        # next day; 第二百零三条: a last day on a holiday moves to the next working day, and
        # the period ends when business stops. So the deadline is the close of business on
        # the N-th working day after the start day, whatever the hour or kind of start day.
        if days == 0:
            return self.next_business_moment(local)
        day = local.date()
        for _ in range(days):
            day = self.next_workday(day)
        return datetime.combine(day, self.business_hours[-1][1], tzinfo=self.zone)

    def _blocks_from(self, local: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Business blocks, in order, from the first one that ends after `local`."""
        day = local.date()
        if not self.is_workday(day):
            day = self.next_workday(day)
        while True:
            for opens, closes in self.business_hours:
                block_end = datetime.combine(day, closes, tzinfo=self.zone)
                if block_end > local:
                    yield datetime.combine(day, opens, tzinfo=self.zone), block_end
            day = self.next_workday(day)

    def _local(self, moment: datetime) -> datetime:
        if not isinstance(moment, datetime):
            raise TypeError(f"expected a datetime, got {type(moment).__name__}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment.isoformat()}: pass a timezone-aware one")
        return moment.astimezone(self.zone)


def _business_blocks(
    pairs: Iterable[tuple[time | str, time | str]],
) -> tuple[tuple[time, time], ...]:
    blocks = sorted((_as_time(opens), _as_time(closes)) for opens, closes in pairs)
    if not blocks:
        raise ValueError("business_hours needs at least one (start, end) block")
    for opens, closes in blocks:
        if opens >= closes:
            raise ValueError(f"business block {opens}-{closes} must end after it starts")
    for (_, closes), (next_opens, next_closes) in itertools.pairwise(blocks):
        if next_opens < closes:
            raise ValueError(f"business block {next_opens}-{next_closes} overlaps the one before")
    return tuple(blocks)


def _as_time(value: time | str) -> time:
    parsed = time.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(parsed, time) or parsed.tzinfo is not None:
        raise ValueError(f"business hours take local times like time(9) or '09:00', got {value!r}")
    return parsed


def _dates(values: Iterable[date | str]) -> frozenset[date]:
    parsed = frozenset(date.fromisoformat(v) if isinstance(v, str) else v for v in values)
    if not all(isinstance(d, date) and not isinstance(d, datetime) for d in parsed):
        raise ValueError(
            f"extra holidays and workdays must be dates, got {sorted(map(str, parsed))}"
        )
    return parsed
