"""The working-time calendar against the real 2026 statutory calendar.

Expected dates were looked up with chinese_calendar and written down literally:
2026 Spring Festival off 02-15..02-23, make-up working Saturdays 02-14 and 02-28;
New Year make-up working Sunday 01-04; Mid-Autumn off Fri 09-25;
National Day off 10-01..10-07, make-up working Saturday 10-10.
"""

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker import workdays
from worker.workdays import Duration, WorkCalendar, parse_duration

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()


def at(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# --- fixed cases, 2026 ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 1), False),  # New Year's Day, Thursday
        (date(2026, 1, 4), True),  # 调休 Sunday
        (date(2026, 2, 13), True),
        (date(2026, 2, 14), True),  # 调休 Saturday before Spring Festival
        (date(2026, 2, 15), False),
        (date(2026, 2, 23), False),  # last day of the Spring Festival break, a Monday
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # 调休 Saturday after Spring Festival
        (date(2026, 3, 1), False),
        (date(2026, 9, 25), False),  # Mid-Autumn, a Friday
        (date(2026, 10, 7), False),
        (date(2026, 10, 10), True),  # 调休 Saturday after National Day
        (date(2026, 10, 11), False),
        (date(2026, 3, 7), False),  # plain Saturday
    ],
)
def test_is_workday_follows_the_statutory_calendar(day, expected):
    assert CALENDAR.is_workday(day) is expected


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # Spring Festival
        (at(2026, 2, 13, 10), "1 working day", at(2026, 2, 14, 18)),  # onto the 调休 Saturday
        (at(2026, 2, 14, 10), "1 working day", at(2026, 2, 24, 18)),  # across the break
        (at(2026, 2, 13, 10), "2 working days", at(2026, 2, 24, 18)),
        (at(2026, 2, 16, 10), "1 working day", at(2026, 2, 24, 18)),  # holiday start
        (at(2026, 2, 27, 10), "1 working day", at(2026, 2, 28, 18)),
        (at(2026, 2, 28, 10), "1 working day", at(2026, 3, 2, 18)),
        (at(2026, 2, 13, 17), "2 working hours", at(2026, 2, 14, 10)),
        (at(2026, 2, 14, 17, 30), "1 working hour", at(2026, 2, 24, 9, 30)),
        (at(2026, 1, 2, 10), "1 working day", at(2026, 1, 4, 18)),  # onto the 调休 Sunday
        # National Day
        (at(2026, 9, 30, 10), "1 working day", at(2026, 10, 8, 18)),
        (at(2026, 9, 30, 10), "3 working days", at(2026, 10, 10, 18)),  # 调休 Saturday
        (at(2026, 9, 30, 10), "4 working days", at(2026, 10, 12, 18)),
        (at(2026, 9, 30, 17), "2 working hours", at(2026, 10, 8, 10)),
        (at(2026, 9, 24, 10), "1 working day", at(2026, 9, 28, 18)),  # Mid-Autumn Friday
        # a plain weekend
        (at(2026, 3, 9, 10), "1 working day", at(2026, 3, 10, 18)),
        (at(2026, 3, 9, 8), "1 working day", at(2026, 3, 10, 18)),  # start day never counts
        (at(2026, 3, 6, 20), "1 working day", at(2026, 3, 9, 18)),
        (at(2026, 3, 7, 10), "1 working day", at(2026, 3, 9, 18)),
        (at(2026, 3, 6, 17), "2 working hours", at(2026, 3, 9, 10)),
        # business-hour edges
        (at(2026, 3, 3, 11, 59), "2 working minutes", at(2026, 3, 3, 13, 1)),
        (at(2026, 3, 3, 17, 30), "1 working hour", at(2026, 3, 4, 9, 30)),
        (at(2026, 3, 3, 11), "1 working hour", at(2026, 3, 3, 12)),  # stays at the block end
        (at(2026, 3, 3, 17), "1 working hour", at(2026, 3, 3, 18)),
        (at(2026, 3, 3, 12, 30), "30 working minutes", at(2026, 3, 3, 13, 30)),
        (at(2026, 3, 3, 7), "4 working hours", at(2026, 3, 3, 14)),
        (at(2026, 3, 3, 20), "0 working minutes", at(2026, 3, 4, 9)),
        # long spans, stepped block by block
        (at(2026, 3, 2, 10), "15 working days", at(2026, 3, 23, 18)),
        (at(2026, 3, 2, 9), "200 working hours", at(2026, 4, 3, 18)),  # 25 days of 8 hours
        # plain calendar time ignores business hours and holidays
        (at(2026, 9, 30, 20), "24 hours", at(2026, 10, 1, 20)),
        (at(2026, 9, 30, 20), "3 days", at(2026, 10, 3, 20)),
        (at(2026, 9, 30, 23, 45), "30 minutes", at(2026, 10, 1, 0, 15)),
        (at(2026, 9, 30, 23, 45), "0 minutes", at(2026, 9, 30, 23, 45)),
    ],
)
def test_add(start, duration, expected):
    result = CALENDAR.add(start, duration)
    assert result == expected
    assert result.tzinfo == SHANGHAI


def test_add_accepts_a_duration_and_returns_the_calendar_zone():
    start_utc = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    result = CALENDAR.add(start_utc, Duration(1, "working_hours"))
    assert result == at(2026, 3, 3, 10)
    assert result.tzinfo == SHANGHAI
    assert result.hour == 10


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(2026, 3, 3, 10), at(2026, 3, 3, 10)),
        (at(2026, 3, 3, 9), at(2026, 3, 3, 9)),
        (at(2026, 3, 3, 8), at(2026, 3, 3, 9)),
        (at(2026, 3, 3, 12), at(2026, 3, 3, 13)),  # a block's end is outside it
        (at(2026, 3, 3, 18), at(2026, 3, 4, 9)),
        (at(2026, 3, 7, 10), at(2026, 3, 9, 9)),
        (at(2026, 2, 15, 10), at(2026, 2, 24, 9)),
    ],
)
def test_next_business_moment(moment, expected):
    assert CALENDAR.next_business_moment(moment) == expected


def test_business_seconds_between():
    assert CALENDAR.business_seconds_between(at(2026, 9, 30, 17), at(2026, 10, 8, 10)) == 7200
    # Monday 10:00 to Tuesday 18:00: 2 + 5 hours, then a full 8-hour day
    assert CALENDAR.business_seconds_between(at(2026, 3, 9, 10), at(2026, 3, 10, 18)) == 15 * 3600
    assert CALENDAR.business_seconds_between(at(2026, 3, 10, 18), at(2026, 3, 9, 10)) == 0
    assert CALENDAR.business_seconds_between(at(2026, 3, 7, 0), at(2026, 3, 8, 23)) == 0


def test_reminder_at_three_quarters_of_a_stage():
    opened, due = at(2026, 3, 9, 10), at(2026, 3, 10, 18)
    reminder = CALENDAR.add_business_seconds(
        opened, 0.75 * CALENDAR.business_seconds_between(opened, due)
    )
    assert reminder == at(2026, 3, 10, 14, 15)  # 11.25 of 15 business hours


def test_custom_business_hours_in_another_zone():
    calendar = WorkCalendar(tz="UTC", business_hours=[("08:30", "16:30")])
    start = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    assert calendar.add(start, "1 working hour") == datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    assert calendar.add(start, "1 working day") == datetime(2026, 3, 4, 16, 30, tzinfo=UTC)


# --- policy overrides and years the package does not cover ------------------


def test_extra_dates_override_the_statutory_calendar():
    calendar = WorkCalendar(extra_holidays={date(2026, 3, 3)}, extra_workdays={"2026-03-07"})
    assert not calendar.is_workday(date(2026, 3, 3))
    assert calendar.is_workday(date(2026, 3, 7))
    assert calendar.add(at(2026, 3, 2, 10), "1 working day") == at(2026, 3, 4, 18)


def test_2027_falls_back_to_weekdays_and_policy_dates():
    calendar = WorkCalendar(extra_holidays={date(2027, 10, 1)}, extra_workdays={date(2027, 10, 9)})
    assert calendar.is_workday(date(2027, 1, 4))  # Monday
    assert not calendar.is_workday(date(2027, 1, 2))  # Saturday
    assert not calendar.is_workday(date(2027, 10, 1))  # Friday, policy holiday
    assert calendar.is_workday(date(2027, 10, 9))  # Saturday, policy workday
    assert calendar.add(at(2027, 9, 30, 10), "1 working day") == at(2027, 10, 4, 18)
    assert calendar.add(at(2027, 10, 8, 17), "2 working hours") == at(2027, 10, 9, 10)


def test_uncovered_year_warns_once_per_year(caplog):
    # The warning is process-wide; forget earlier tests' lookups to see it here.
    workdays._package_covers.cache_clear()
    workdays._statutory_workday.cache_clear()
    with caplog.at_level(logging.WARNING, logger="triage.workdays"):
        CALENDAR.is_workday(date(2027, 3, 1))
        CALENDAR.is_workday(date(2027, 3, 2))
        CALENDAR.add(at(2027, 6, 1, 10), "15 working days")
        CALENDAR.is_workday(date(2026, 3, 2))
    warnings = [r for r in caplog.records if r.name == "triage.workdays"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "2027" in warnings[0].getMessage()


# --- durations -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 working days", Duration(2, "working_days")),
        ("1 working day", Duration(1, "working_days")),
        ("4 working hours", Duration(4, "working_hours")),
        ("30 working minutes", Duration(30, "working_minutes")),
        ("24 hours", Duration(24, "hours")),
        ("30 minutes", Duration(30, "minutes")),
        ("3 days", Duration(3, "days")),
        ("1.5 hours", Duration(1.5, "hours")),
        ("  2 Working Days ", Duration(2, "working_days")),
        ("2个工作日", Duration(2, "working_days")),
        ("24小时", Duration(24, "hours")),
        ("30分钟", Duration(30, "minutes")),
        ("3天", Duration(3, "days")),
        ("4个工作小时", Duration(4, "working_hours")),
        ("两个工作日", Duration(2, "working_days")),
        ("十五个工作日", Duration(15, "working_days")),
        ("二十四小时", Duration(24, "hours")),
        ("２个工作日", Duration(2, "working_days")),  # full-width digit
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "2", "days", "two days", "2 weeks", "-1 days", "2 business days", "二四小时"]
)
def test_parse_duration_rejects_anything_else(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_duration_validates_itself():
    with pytest.raises(ValueError, match="unit"):
        Duration(1, "weeks")
    with pytest.raises(ValueError, match=">= 0"):
        Duration(-1, "hours")
    with pytest.raises(ValueError, match="whole number"):
        parse_duration("1.5 working days")


@pytest.mark.parametrize("text", ["1 working day", "2 working days", "1.5 hours", "0 minutes"])
def test_duration_prints_as_it_parses(text):
    assert str(parse_duration(text)) == text


@pytest.mark.parametrize(
    "arguments",
    [
        {"tz": "Mars/Olympus"},
        {"business_hours": []},
        {"business_hours": [(time(12), time(9))]},
        {"business_hours": [(time(9), time(13)), (time(12), time(18))]},
        {"extra_holidays": {date(2027, 1, 1)}, "extra_workdays": {date(2027, 1, 1)}},
    ],
)
def test_bad_calendar_fails_at_construction(arguments):
    with pytest.raises(ValueError):
        WorkCalendar(**arguments)


# --- properties ------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from([SHANGHAI, UTC, ZoneInfo("America/New_York")]),
)
working_units = st.sampled_from(workdays.WORKING_UNITS)
all_units = st.sampled_from(workdays.UNITS)


def in_business_hours_or_at_a_block_end(moment):
    local = moment.astimezone(SHANGHAI)
    return CALENDAR.is_workday(local.date()) and any(
        opens <= local.time() <= closes for opens, closes in CALENDAR.business_hours
    )


@given(starts, all_units, st.integers(0, 40), st.integers(0, 40))
def test_add_is_monotonic_in_the_amount(start, unit, first, second):
    smaller, larger = sorted((first, second))
    sooner = CALENDAR.add(start, Duration(smaller, unit))
    assert sooner <= CALENDAR.add(start, Duration(larger, unit))


@given(starts, working_units, st.integers(0, 40))
def test_working_units_end_inside_business_hours(start, unit, amount):
    result = CALENDAR.add(start, Duration(amount, unit))
    assert result.tzinfo == SHANGHAI
    assert result >= start
    assert in_business_hours_or_at_a_block_end(result)


@given(starts, st.floats(0, 300 * 3600, allow_nan=False))
def test_business_seconds_round_trip(start, seconds):
    end = CALENDAR.add_business_seconds(start, seconds)
    assert CALENDAR.business_seconds_between(start, end) == pytest.approx(seconds, abs=1)


@given(starts, starts, starts)
def test_business_seconds_add_up(first, second, third):
    a, b, c = sorted((first, second, third))
    between = CALENDAR.business_seconds_between
    assert between(a, c) == pytest.approx(between(a, b) + between(b, c), abs=1e-3)


@given(starts, st.integers(0, 20))
def test_n_working_days_then_one_is_n_plus_one(start, days):
    inside = CALENDAR.next_business_moment(start)
    step = Duration(1, "working_days")
    assert CALENDAR.add(CALENDAR.add(inside, Duration(days, "working_days")), step) == (
        CALENDAR.add(inside, Duration(days + 1, "working_days"))
    )


@given(starts)
def test_next_business_moment_is_inside_business_hours(start):
    moment = CALENDAR.next_business_moment(start)
    assert moment >= start
    assert CALENDAR.business_seconds_between(start, moment) == 0
    assert in_business_hours_or_at_a_block_end(moment)
    assert moment.astimezone(SHANGHAI).time() not in {c for _, c in CALENDAR.business_hours}


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)), all_units)
def test_naive_datetimes_are_refused(naive, unit):
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.add(naive, Duration(1, unit))
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.next_business_moment(naive)
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.add_business_seconds(naive, 60)
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.business_seconds_between(naive, naive + timedelta(hours=1))
