"""When a deployment's flow runs: ``Cron``, ``Interval`` and ``RRule`` schedules, each in an
IANA time zone, with the parameters and ``active`` flag of the runs it makes.

    from plait.schedules import Cron, Interval, RRule

    Cron("0 2 * * *", timezone="Europe/Berlin")
    Interval(timedelta(minutes=30), anchor_date=datetime(2026, 1, 1, 0, 15))
    RRule("FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=6", timezone="America/New_York")

``schedule.occurrences(start, end)`` lists the instants it fires at, as aware UTC datetimes.
Times are handled as a careful user expects:

- Cron and rrule times are wall-clock times in the schedule's time zone (UTC by default).
- A wall time a spring-forward transition skips happens once, moved forward by the gap:
  02:30 on Berlin's spring-forward day is 03:30 CEST.
- A wall time a fall-back transition repeats happens once, at its first instant (02:30 CEST,
  not 02:30 CET as well); a schedule that fires every hour (a cron whose hour field is
  ``*``, an hourly or finer rrule without BYHOUR) fires at both, so it keeps its pace.
- An interval is an exact duration, counted from its anchor (by default midnight of
  2020-01-01 in the schedule's time zone, so ``Interval(timedelta(hours=1))`` fires on the
  hour): 24 hours across a DST change is 24 hours, not "the same time tomorrow".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plait.exceptions import PlaitError

DEFAULT_ANCHOR = datetime(2020, 1, 1)  # wall time, in the schedule's time zone
_SLACK = timedelta(hours=3)  # more than any DST shift: how far wall time and UTC drift apart
_CRON_SEARCH_DAYS = 8 * 366  # a cron that matches no day in this long never fires
_PERIODS = {  # dateutil's frequencies whose periods all last the same (in wall time)
    2: timedelta(weeks=1), 3: timedelta(days=1), 4: timedelta(hours=1),
    5: timedelta(minutes=1), 6: timedelta(seconds=1),
}  # fmt: skip
_DATE_PARTS = ("bymonth", "bymonthday", "byyearday", "byweekno", "byweekday", "byeaster")


class ScheduleError(PlaitError, ValueError):
    """A schedule's field is not valid; the message names it and says how to fix it."""


@dataclass(frozen=True)
class _Schedule:
    """What every schedule has: its time zone, the parameters its runs get, whether it is on."""

    def _check_common(self) -> None:
        _zone(self.timezone)
        if not isinstance(self.active, bool):
            raise ScheduleError(f"active: must be True or False; got {self.active!r}.")
        if not isinstance(self.parameters, dict) or not all(
            isinstance(name, str) for name in self.parameters
        ):
            raise ScheduleError(
                f"parameters: must be a dict of parameter names to values; got {self.parameters!r}."
            )

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def occurrences(
        self, start: datetime, end: datetime, limit: int | None = None
    ) -> list[datetime]:
        """The instants at or after ``start`` and before ``end`` (aware datetimes) the
        schedule fires at, in order, as UTC; at most ``limit`` of them."""
        _aware(start, "start")
        _aware(end, "end")
        if limit is not None and limit < 1:
            raise ScheduleError(f"limit: must be at least 1; got {limit!r}.")
        return self._occurrences(start.astimezone(UTC), end.astimezone(UTC), limit)

    def _occurrences(self, start: datetime, end: datetime, limit: int | None) -> list[datetime]:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """The schedule as JSON data (``schedule_from_json`` reads it back)."""
        raise NotImplementedError

    def _common_json(self) -> dict[str, Any]:
        return {"timezone": self.timezone, "parameters": self.parameters, "active": self.active}


@dataclass(frozen=True)
class Cron(_Schedule):
    """Fires at the wall times a five-field cron expression (minute hour day month weekday)
    names, in ``timezone``."""

    cron: str
    timezone: str = "UTC"
    parameters: dict[str, Any] = field(default_factory=dict)
    active: bool = True

    def __post_init__(self) -> None:
        fields = self.cron.split() if isinstance(self.cron, str) else []
        if len(fields) != 5 or _cron_fields(self.cron) is None:
            raise ScheduleError(
                f"cron: {self.cron!r} is not a cron expression; give five fields (minute hour "
                "day-of-month month day-of-week), e.g. '0 2 * * *' for 02:00 every day."
            )
        if next(_cron_walls(self.cron, DEFAULT_ANCHOR), None) is None:
            raise ScheduleError(
                f"cron: {self.cron!r} never fires (no such day of the month); check its "
                "day-of-month and month fields."
            )
        self._check_common()

    def _occurrences(self, start: datetime, end: datetime, limit: int | None) -> list[datetime]:
        zone = self.zone
        walls = _cron_walls(self.cron, _wall(start, zone) - _SLACK)
        every_hour = self.cron.split()[1] == "*"
        return _collect(walls, zone, every_hour, start, end, limit)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "cron", "cron": self.cron, **self._common_json()}


@dataclass(frozen=True)
class Interval(_Schedule):
    """Fires every ``interval`` (an exact duration) from ``anchor_date``; a naive anchor is a
    wall time in ``timezone``."""

    interval: timedelta
    anchor_date: datetime = DEFAULT_ANCHOR
    timezone: str = "UTC"
    parameters: dict[str, Any] = field(default_factory=dict)
    active: bool = True

    def __post_init__(self) -> None:
        given = interval = self.interval
        if isinstance(interval, int | float) and not isinstance(interval, bool):
            interval = timedelta(seconds=interval)
            object.__setattr__(self, "interval", interval)
        if not isinstance(interval, timedelta) or interval <= timedelta(0):
            raise ScheduleError(
                f"interval: must be a positive duration (a timedelta, or seconds); got {given!r}."
            )
        if not isinstance(self.anchor_date, datetime):
            raise ScheduleError(f"anchor_date: must be a datetime; got {self.anchor_date!r}.")
        self._check_common()

    @property
    def anchor(self) -> datetime:
        """The anchor as an aware UTC instant."""
        anchor = self.anchor_date
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=self.zone)
        return anchor.astimezone(UTC)

    def _occurrences(self, start: datetime, end: datetime, limit: int | None) -> list[datetime]:
        anchor, step = self.anchor, self.interval
        k = max(0, math.ceil((start - anchor) / step))
        found: list[datetime] = []
        while (moment := anchor + k * step) < end and (limit is None or len(found) < limit):
            found.append(moment)
            k += 1
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "interval",
            "interval_seconds": self.interval.total_seconds(),
            "anchor_date": self.anchor_date.isoformat(),
            **self._common_json(),
        }


@dataclass(frozen=True)
class RRule(_Schedule):
    """Fires at the wall times an iCalendar recurrence rule (RFC 5545, one ``RRULE``) names,
    in ``timezone``, counted from ``anchor_date`` (a wall time: it also gives the minute and
    second a rule without BYMINUTE or BYSECOND fires at)."""

    rrule: str
    timezone: str = "UTC"
    anchor_date: datetime = DEFAULT_ANCHOR
    parameters: dict[str, Any] = field(default_factory=dict)
    active: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.anchor_date, datetime) or self.anchor_date.tzinfo is not None:
            raise ScheduleError(
                f"anchor_date: must be a naive datetime (a wall time in the schedule's "
                f"timezone); got {self.anchor_date!r}."
            )
        self._check_common()
        if self._first_day() is None or self._rule().after(self.anchor_date, inc=True) is None:
            raise ScheduleError(
                f"rrule: {self.rrule!r} never fires from its anchor date "
                f"({self.anchor_date:%Y-%m-%d}); check its BY... parts, COUNT and UNTIL, or "
                "give a later anchor_date."
            )

    def _first_day(self) -> datetime | None:
        """The first day the rule's date parts allow, by a yearly rule with those parts: it
        gives up in well under a second where the rule itself, looking for a day that does
        not exist minute by minute, would search for seconds."""
        from dateutil.rrule import YEARLY

        rule = self._rule()
        dates = {part: rule._original_rule.get(part) for part in _DATE_PARTS}
        yearly = rule.replace(freq=YEARLY, interval=1, count=None, until=None, **dates)
        return yearly.after(self.anchor_date, inc=True)

    def _rule(self) -> Any:
        from dateutil.rrule import rrule, rrulestr

        text = self.rrule.strip() if isinstance(self.rrule, str) else ""
        problem = None
        if "DTSTART" in text.upper():
            problem = "give the start as anchor_date= instead of DTSTART"
        else:
            try:
                rule = rrulestr(text, dtstart=self.anchor_date)
            except (ValueError, TypeError) as exc:
                problem = str(exc) or "not a recurrence rule"
            else:
                if isinstance(rule, rrule):
                    return rule
                problem = "give one RRULE (sets, RDATE and EXDATE are not supported)"
        raise ScheduleError(
            f"rrule: {self.rrule!r} is not a recurrence rule Plait can use ({problem}); "
            "e.g. 'FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=6'."
        )

    def _occurrences(self, start: datetime, end: datetime, limit: int | None) -> list[datetime]:
        from dateutil.rrule import HOURLY

        rule, zone = self._rule(), self.zone
        every_hour = rule._freq >= HOURLY and not rule._original_rule.get("byhour")
        first_wall = _wall(start, zone) - _SLACK
        walls = _near(rule, first_wall).xafter(first_wall, inc=True)
        return _collect(walls, zone, every_hour, start, end, limit)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "rrule",
            "rrule": self.rrule,
            "anchor_date": self.anchor_date.isoformat(),
            **self._common_json(),
        }


Schedule = Cron | Interval | RRule


def schedule_from_json(data: dict[str, Any]) -> Schedule:
    """The schedule ``Schedule.to_json`` made ``data`` from."""
    data = dict(data)
    kind = data.pop("kind", None)
    if kind == "cron":
        return Cron(**data)
    if kind == "interval":
        interval = timedelta(seconds=data.pop("interval_seconds"))
        return Interval(interval, anchor_date=datetime.fromisoformat(data.pop("anchor_date")),
                        **data)  # fmt: skip
    if kind == "rrule":
        anchor = datetime.fromisoformat(data.pop("anchor_date"))
        return RRule(data.pop("rrule"), anchor_date=anchor, **data)
    raise ScheduleError(f"kind: must be 'cron', 'interval' or 'rrule'; got {kind!r}.")


def _near(rule: Any, wall: datetime) -> Any:
    """``rule`` started at its last period before ``wall`` (the same occurrences from there
    on), so that listing them does not walk every period since its anchor. Rules with a
    COUNT, or counted in months or years (whose periods differ in length), stay as they are."""
    step = _PERIODS.get(rule._freq)
    if step is None or rule._count is not None or rule._dtstart >= wall:
        return rule
    period = step * rule._interval
    return rule.replace(dtstart=rule._dtstart + ((wall - rule._dtstart) // period) * period)


def _cron_walls(expression: str, after: datetime) -> Iterator[datetime]:
    """The wall times at or after ``after`` a cron expression names, in order. Plain
    fields (numbers, ranges, steps, lists) are matched day by day here, which is many times
    faster than croniter's own search; croniter parses them, and walks the rest (``L``,
    ``#``). Stops if no day matches in eight years (the expression cannot fire)."""
    fields = _cron_fields(expression)
    if not fields:  # not plain: croniter walks it
        from croniter import croniter

        yield from croniter(expression, after - timedelta(seconds=1)).all_next(datetime)
        return
    minutes, hours, days, months, weekdays = fields
    every = [list(range(60)), list(range(24))]
    minutes, hours = (every[i] if f == ["*"] else sorted(f) for i, f in enumerate((minutes, hours)))
    any_day, any_weekday = days == ["*"], weekdays == ["*"]
    day, idle = after.date(), 0
    while idle < _CRON_SEARCH_DAYS:
        on_day = any_day or day.day in days
        on_weekday = any_weekday or (day.weekday() + 1) % 7 in weekdays
        fires = on_day and on_weekday if any_day or any_weekday else on_day or on_weekday
        if fires and (months == ["*"] or day.month in months):
            idle = 0
            for hour in hours:
                for minute in minutes:
                    wall = datetime(day.year, day.month, day.day, hour, minute)
                    if wall >= after:
                        yield wall
        else:
            idle += 1
        day += timedelta(days=1)


@functools.lru_cache(maxsize=4096)
def _cron_fields(expression: str) -> tuple[list[Any], ...] | None:
    """A valid cron expression's five fields as croniter expands them, if they are plain
    (numbers, ranges, steps, lists), else ``()`` (``L``, ``#``); None if it is not valid.
    Kept per expression: a scheduler reads the same ones on every pass."""
    from croniter import CroniterError, croniter

    try:
        parsed = croniter(expression)
    except (CroniterError, ValueError, TypeError):
        return None
    plain = all(v == "*" or isinstance(v, int) for f in parsed.expanded for v in f)
    if not plain or parsed.nth_weekday_of_month:
        return ()
    return tuple(parsed.expanded)


def _collect(
    walls: Iterator[datetime],
    zone: ZoneInfo,
    both_folds: bool,
    start: datetime,
    end: datetime,
    limit: int | None,
) -> list[datetime]:
    """The instants in [start, end) of the wall times ``walls`` yields in order, at most
    ``limit``. Wall times drift from UTC by at most ``_SLACK``, so enumeration starts that
    much early and stops that much past the last instant needed."""
    last_wall = _wall(end, zone) + _SLACK
    found: set[datetime] = set()
    stop_at: datetime | None = None
    for wall in walls:
        if wall > last_wall or (stop_at is not None and wall > stop_at):
            break
        found.update(t for t in _instants(wall, zone, both_folds) if start <= t < end)
        if stop_at is None and limit is not None and len(found) >= limit:
            stop_at = wall + _SLACK
    return sorted(found)[:limit]


def _instants(wall: datetime, zone: ZoneInfo, both_folds: bool) -> list[datetime]:
    """The UTC instants of a wall time: a skipped one moved forward by the gap (what
    ``fold=0`` gives), a repeated one at its first instant, or at both with ``both_folds``."""
    if zone.key == "UTC":
        return [wall.replace(tzinfo=UTC)]
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if both_folds:
        second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if second != first and _wall(second, zone) == wall == _wall(first, zone):
            return [first, second]
    return [first]


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(
            f"timezone: {name!r} is not an IANA time zone; give a name such as "
            "'Europe/Berlin', 'America/New_York' or 'UTC'."
        ) from None


def _aware(moment: Any, name: str) -> None:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ScheduleError(f"{name}: must be an aware datetime (with a UTC offset).")


__all__ = ["Cron", "Interval", "RRule", "Schedule", "ScheduleError", "schedule_from_json"]
