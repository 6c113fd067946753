"""Schedules fire when a careful user expects: cron and rrule at wall-clock times in their
time zone, once on the days a DST transition skips or repeats the time, every hour through
them when they fire every hour; intervals are exact durations. Bad fields are refused by
name. Every instant is computed from given dates: nothing here reads the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from dateutil.rrule import rrulestr

from plait.schedules import Cron, Interval, RRule, ScheduleError, schedule_from_json

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def _local(schedule, day: str, zone: ZoneInfo, days: int = 1) -> list[str]:
    """The local times the schedule fires at over ``days`` local days from ``day``."""
    start = datetime.fromisoformat(day).replace(tzinfo=zone)
    end = (datetime.fromisoformat(day) + timedelta(days=days)).replace(tzinfo=zone)
    return [t.astimezone(zone).isoformat() for t in schedule.occurrences(start, end)]


@pytest.mark.parametrize(
    ("zone", "spring_forward", "expected"),
    [
        ("Europe/Berlin", "2026-03-29", "2026-03-29T03:30:00+02:00"),
        ("America/New_York", "2026-03-08", "2026-03-08T03:30:00-04:00"),
    ],
)
def test_a_skipped_wall_time_happens_once_moved_forward_by_the_gap(zone, spring_forward, expected):
    daily = Cron("30 2 * * *", timezone=zone)
    assert _local(daily, spring_forward, ZoneInfo(zone)) == [expected]
    rule = RRule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", timezone=zone)
    assert _local(rule, spring_forward, ZoneInfo(zone)) == [expected]


@pytest.mark.parametrize(
    ("zone", "fall_back", "cron", "expected"),
    [
        ("Europe/Berlin", "2026-10-25", "30 2 * * *", "2026-10-25T02:30:00+02:00"),
        ("America/New_York", "2026-11-01", "30 1 * * *", "2026-11-01T01:30:00-04:00"),
    ],
)
def test_a_repeated_wall_time_happens_once_at_its_first_instant(zone, fall_back, cron, expected):
    assert _local(Cron(cron, timezone=zone), fall_back, ZoneInfo(zone)) == [expected]


def test_the_days_around_a_transition_keep_their_wall_time():
    daily = Cron("30 2 * * *", timezone="Europe/Berlin")
    assert _local(daily, "2026-03-28", BERLIN, days=3) == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


@pytest.mark.parametrize(
    "hourly",
    [Cron("0 * * * *", timezone="Europe/Berlin"), RRule("FREQ=HOURLY", timezone="Europe/Berlin")],
)
def test_an_hourly_schedule_keeps_firing_every_hour_through_both_transitions(hourly):
    fall_back = _local(hourly, "2026-10-25", BERLIN)
    assert len(fall_back) == 25, "the repeated hour runs twice"
    assert fall_back[2:4] == ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
    spring_forward = _local(hourly, "2026-03-29", BERLIN)
    assert len(spring_forward) == 23, "the skipped hour has no run, and 03:00 runs once"
    assert spring_forward[1:3] == ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"]
    instants = hourly.occurrences(
        datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 26, 12, tzinfo=UTC)
    )
    assert {b - a for a, b in pairwise(instants)} == {timedelta(hours=1)}


def test_an_interval_is_an_exact_duration_across_a_transition():
    every_day = Interval(timedelta(hours=24), timezone="Europe/Berlin")
    assert _local(every_day, "2026-03-28", BERLIN, days=3) == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T01:00:00+02:00",
    ]


def test_an_interval_counts_from_its_anchor():
    half_hours = Interval(1800, anchor_date=datetime(2026, 1, 1, 0, 15), timezone="Europe/Berlin")
    start = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert half_hours.occurrences(start, start + timedelta(hours=1)) == [
        datetime(2026, 12, 3, 9, 15, tzinfo=UTC),
        datetime(2026, 12, 3, 9, 45, tzinfo=UTC),
    ]
    on_the_hour = Interval(timedelta(hours=1))
    assert on_the_hour.occurrences(start, start + timedelta(hours=2), limit=5) == [
        start,
        start + timedelta(hours=1),
    ], "the default anchor is midnight: an hourly interval fires on the hour"


def test_a_weekly_rrule_fires_at_its_local_hour_on_both_sides_of_a_transition():
    rule = RRule("FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=6", timezone="America/New_York")
    assert _local(rule, "2026-10-26", NEW_YORK, days=14) == [
        "2026-10-26T06:00:00-04:00",
        "2026-10-30T06:00:00-04:00",
        "2026-11-02T06:00:00-05:00",
        "2026-11-06T06:00:00-05:00",
    ]


@pytest.mark.parametrize(
    ("text", "anchor"),
    [
        ("FREQ=HOURLY;INTERVAL=5", datetime(2020, 1, 1, 0, 17)),
        ("FREQ=MINUTELY;INTERVAL=7;BYHOUR=9,10", datetime(2021, 6, 3, 8, 0, 13)),
        ("FREQ=WEEKLY;INTERVAL=3;BYDAY=TU", datetime(2020, 2, 29, 7, 45)),
        ("FREQ=DAILY;INTERVAL=2", datetime(2019, 12, 31, 23, 59)),
    ],
)
def test_an_rrule_far_from_its_anchor_keeps_its_phase(text, anchor):
    rule = RRule(text, anchor_date=anchor)
    start = datetime(2026, 12, 3, tzinfo=UTC)
    walked = rrulestr(text, dtstart=anchor).between(
        start.replace(tzinfo=None), datetime(2027, 1, 3), inc=True
    )
    expected = [moment.replace(tzinfo=UTC) for moment in walked][:50]
    assert rule.occurrences(start, datetime(2027, 1, 3, tzinfo=UTC), limit=50) == expected


def test_occurrences_are_from_start_up_to_end_and_at_most_limit():
    daily = Cron("0 6 * * *")
    start = datetime(2026, 12, 3, 6, tzinfo=UTC)
    end = start + timedelta(days=3)
    assert daily.occurrences(start, end) == [start + timedelta(days=d) for d in range(3)]
    assert daily.occurrences(start, end, limit=2) == [start, start + timedelta(days=1)]
    assert daily.occurrences(start.astimezone(NEW_YORK), end) == daily.occurrences(start, end)


@pytest.mark.parametrize(
    ("make", "field", "hint"),
    [
        (lambda: Cron("61 * * * *"), "cron", "five fields"),
        (lambda: Cron("0 2 * *"), "cron", "five fields"),
        (lambda: Cron("0 2 * * * 5"), "cron", "five fields"),
        (lambda: Cron("0 2 * * *", timezone="Europe/Berln"), "timezone", "Europe/Berlin"),
        (lambda: Cron("0 2 * * *", timezone="../etc/passwd"), "timezone", "IANA"),
        (lambda: Cron("0 2 * * *", parameters=["day"]), "parameters", "dict"),
        (lambda: Cron("0 2 * * *", active="yes"), "active", "True or False"),
        (lambda: Interval(timedelta(0)), "interval", "positive"),
        (lambda: Interval(-60), "interval", "positive"),
        (lambda: Interval("hourly"), "interval", "positive"),
        (lambda: RRule("FREQ=SOMETIMES"), "rrule", "FREQ=WEEKLY"),
        (lambda: RRule("DTSTART:20200101T000000\nRRULE:FREQ=DAILY"), "rrule", "anchor_date"),
        (lambda: RRule("FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=31"), "rrule", "never fires"),
        (lambda: RRule("FREQ=DAILY;UNTIL=20190101T000000"), "rrule", "never fires"),
        (lambda: RRule("FREQ=DAILY", anchor_date=datetime(2026, 1, 1, tzinfo=UTC)),
         "anchor_date", "naive"),
    ],
)  # fmt: skip
def test_a_bad_field_is_refused_by_name(make, field, hint):
    with pytest.raises(ScheduleError, match=rf"^{field}: ") as refused:
        make()
    assert hint in str(refused.value)


def test_occurrences_need_aware_times():
    with pytest.raises(ScheduleError, match="start: must be an aware datetime"):
        Cron("0 6 * * *").occurrences(datetime(2026, 12, 3), datetime(2026, 12, 4, tzinfo=UTC))


@pytest.mark.parametrize(
    "schedule",
    [
        Cron("0 2 * * *", timezone="Europe/Berlin", parameters={"day": "today"}),
        Interval(timedelta(minutes=90), anchor_date=datetime(2026, 1, 1, 6), active=False),
        RRule(
            "FREQ=WEEKLY;BYDAY=MO", timezone="America/New_York", anchor_date=datetime(2026, 1, 5)
        ),
    ],
)
def test_a_schedule_round_trips_through_json(schedule):
    assert schedule_from_json(schedule.to_json()) == schedule


@pytest.mark.parametrize(
    "expression",
    ["0 2 * * *", "*/15 * * * *", "0 9 1,15 * MON-FRI", "5 4 * * sun", "0 0 29 2 *",
     "0 0 * * 7", "0 12 1-7 * 1", "0-59/20 3,5 */3 1-6 *", "0 0 L * *", "0 0 * * 5#3"],
)  # fmt: skip
def test_a_cron_fires_when_croniter_says(expression):
    start = datetime(2025, 12, 28, 13, 7, tzinfo=UTC)
    end = start + timedelta(days=3 * 366)
    walked = croniter(expression, start - timedelta(seconds=1)).all_next(datetime)
    expected = [moment.replace(tzinfo=UTC) for moment in islice(walked, 400)]
    expected = [moment for moment in expected if moment < end]
    assert Cron(expression).occurrences(start, end, limit=400) == expected


def test_a_cron_that_never_fires_is_refused():
    with pytest.raises(ScheduleError, match=r"^cron: '0 0 30 2 \*' never fires"):
        Cron("0 0 30 2 *")
