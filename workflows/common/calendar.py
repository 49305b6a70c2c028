"""The working-day calendar (Asia/Shanghai): which days count, and from which source.

Sources, strongest first:
1. CalendarDay rows an admin entered from the official schedule (holidays and make-up days);
2. the `chinese-calendar` package: official holidays and make-up days, but only up to 2026;
3. for later years, the statutory holidays the `holidays` package computes for China (lunar
   festivals included), marked provisional because make-up days are announced each December;
4. weekends alone, if even that fails: a date never raises.

Arithmetic over long spans does not walk the days: a working-day count is the weekdays in the
range (a closed form) plus the exceptions in it (holidays on weekdays, make-up weekends, admin
overrides), which only the years the packages have data for can hold. So counting, adding and
subtracting cost the same for five years as for five thousand.
"""

import datetime as dt
import logging
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A task is due at the close of office on its due day; rung 1 fires once that has passed.
DUE_TIME_OF_DAY = dt.time(18, 0)

OVERRIDE = "override"
OFFICIAL = "chinese-calendar"
PROVISIONAL = "holidays (provisional)"
WEEKEND_ONLY = "weekends only"


@dataclass(frozen=True)
class DayInfo:
    date: dt.date
    is_working: bool
    name: str
    source: str

    @property
    def provisional(self) -> bool:
        return self.source in (PROVISIONAL, WEEKEND_ONLY)


_logged_sources: set[tuple[int, str]] = set()


def _log_source(year: int, source: str) -> None:
    # Once per year and source per process: enough to tell which data a deadline rests on.
    if (year, source) not in _logged_sources:
        _logged_sources.add((year, source))
        logger.info("working-day calendar: %s uses %s", year, source)


@lru_cache(maxsize=64)
def _provisional_holidays(year: int) -> dict[dt.date, str] | None:
    try:
        return dict(holidays.China(years=year).items())
    except Exception:  # noqa: BLE001 - an unknown year must degrade to weekends, not crash
        logger.warning("working-day calendar: no holiday data at all for %s", year, exc_info=True)
        return None


# Pure per date (the packages' data does not change while the process runs): cache it, since
# due-date arithmetic and the sweep walk the same days over and over.
@lru_cache(maxsize=16384)
def _computed_day(day: dt.date) -> DayInfo:
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        working = chinese_calendar.is_workday(day)
        if working and day.weekday() >= 5:
            name = f"make-up working day for {name}" if name else "make-up working day"
        return DayInfo(day, working, name or "", OFFICIAL)
    except NotImplementedError:
        pass  # outside the package's years: the normal path from 2027 on
    except Exception:  # noqa: BLE001
        logger.warning("chinese-calendar failed on %s", day, exc_info=True)
    statutory = _provisional_holidays(day.year)
    if statutory is not None:
        if day in statutory:
            return DayInfo(day, False, statutory[day], PROVISIONAL)
        return DayInfo(day, day.weekday() < 5, "", PROVISIONAL)
    return DayInfo(day, day.weekday() < 5, "", WEEKEND_ONLY)


def _package_years() -> tuple[int, int]:
    """The first and last year for which either package knows a holiday or make-up day;
    outside them every computed day follows the weekday rule."""
    official = {d.year for d in (*chinese_calendar.holidays, *chinese_calendar.workdays)}
    statutory = (
        getattr(holidays.China, "start_year", dt.MINYEAR),
        getattr(holidays.China, "end_year", dt.MAXYEAR),
    )
    return min(*official, statutory[0]), max(*official, statutory[1])


DATA_YEARS = _package_years()


def _official_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except Exception:  # noqa: BLE001 - NotImplementedError outside its years, or any failure
        return False
    return True


@cache  # bounded: only DATA_YEARS (about 150) ever get here
def _year_exceptions(year: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The year's computed days that break the weekday rule: (ordinals, running sum of their
    deltas), a delta being +1 for a worked weekend day and -1 for a weekday off."""
    if not DATA_YEARS[0] <= year <= DATA_YEARS[1]:
        return (), ()
    if _official_covers(year):
        candidates = {
            d for d in (*chinese_calendar.holidays, *chinese_calendar.workdays) if d.year == year
        }
    else:
        candidates = set(_provisional_holidays(year) or ())
    ordinals, running, total = [], [], 0
    for day in sorted(candidates):
        info = _computed_day(day)
        delta = int(info.is_working) - int(day.weekday() < 5)
        if delta:
            total += delta
            ordinals.append(day.toordinal())
            running.append(total)
    return tuple(ordinals), tuple(running)


def _weekdays_through(ordinal: int) -> int:
    """Mondays to Fridays from day 1 (1 January of year 1, a Monday) up to this ordinal."""
    weeks, rest = divmod(ordinal, 7)
    return 5 * weeks + min(rest, 5)


def _sum_between(ordinals, running, after: int, upto: int) -> int:
    """The sum of the deltas at ordinals in (after, upto]."""
    i, j = bisect_right(ordinals, after), bisect_right(ordinals, upto)
    if j <= i:
        return 0
    return running[j - 1] - (running[i - 1] if i else 0)


_MAX_ORDINAL = dt.date.max.toordinal()
# Spans up to this many calendar days are walked day by day (cached lookups, as fast as counting
# for the sweep's few days); longer ones are counted.
WALK_LIMIT = 62


class WorkingCalendar:
    """Working-day arithmetic over the admin's overrides, loaded once per operation."""

    def __init__(self, overrides: dict[dt.date, tuple[bool, str]] | None = None):
        self.overrides = overrides or {}
        # Each override's change against the computed day, for counting over long spans.
        ordinals, running, total = [], [], 0
        for day in sorted(self.overrides):
            delta = int(self.overrides[day][0]) - int(_computed_day(day).is_working)
            if delta:
                total += delta
                ordinals.append(day.toordinal())
                running.append(total)
        self._override_ordinals, self._override_running = ordinals, running

    @classmethod
    def load(cls) -> "WorkingCalendar":
        """The calendar with every override row (a few dozen a year: one small query)."""
        from workflows.models import CalendarDay, CalendarDayKind

        rows = CalendarDay.objects.values_list("date", "kind", "name")
        return cls({d: (kind == CalendarDayKind.WORKDAY, name) for d, kind, name in rows})

    def day(self, day: dt.date) -> DayInfo:
        if day in self.overrides:
            working, name = self.overrides[day]
            return DayInfo(day, working, name, OVERRIDE)
        info = _computed_day(day)
        _log_source(day.year, info.source)
        return info

    def is_working(self, day: dt.date) -> bool:
        return self.day(day).is_working

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The `days`-th working day after `start` (0: `start` itself if working, else the next)."""
        current = start
        if days == 0:
            for _ in range(WALK_LIMIT):
                if self.is_working(current):
                    return current
                current += dt.timedelta(days=1)
            return self._nth_after(current.toordinal() - 1, 1)
        remaining = days
        for _ in range(WALK_LIMIT):
            if remaining <= 0:
                return current
            current += dt.timedelta(days=1)
            if self.is_working(current):
                remaining -= 1
        return current if remaining <= 0 else self._nth_after(current.toordinal(), remaining)

    def subtract_working_days(self, end: dt.date, days: int) -> dt.date:
        """The working day `days` working days before `end` (0: `end` itself)."""
        current = end
        remaining = days
        for _ in range(WALK_LIMIT):
            if remaining <= 0:
                return current
            current -= dt.timedelta(days=1)
            if self.is_working(current):
                remaining -= 1
        return current if remaining <= 0 else self._nth_before(current.toordinal(), remaining)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (0 if end <= start)."""
        if end <= start:
            return 0
        if (end - start).days > WALK_LIMIT:
            return self._count(start.toordinal(), end.toordinal())
        count, current = 0, start
        while current < end:
            current += dt.timedelta(days=1)
            count += self.is_working(current)
        return count

    # ----------------------------------------------------------------------- long spans

    def _count(self, after: int, upto: int) -> int:
        """Working days with ordinals in (after, upto]: weekdays plus the exceptions there."""
        if upto <= after:
            return 0
        count = _weekdays_through(upto) - _weekdays_through(after)
        first = dt.date.fromordinal(max(after + 1, 1)).year
        last = dt.date.fromordinal(min(upto, _MAX_ORDINAL)).year
        for year in range(max(first, DATA_YEARS[0]), min(last, DATA_YEARS[1]) + 1):
            count += _sum_between(*_year_exceptions(year), after, upto)
        return count + _sum_between(self._override_ordinals, self._override_running, after, upto)

    def _nth_after(self, base: int, need: int) -> dt.date:
        """The earliest day after ordinal `base` with `need` working days in (base, day]."""
        step = need * 7 // 5 + need // 10 + 14  # weeks, plus room for a year's holidays
        high = base + step
        while self._count(base, min(high, _MAX_ORDINAL)) < need:
            if high >= _MAX_ORDINAL:
                raise OverflowError("date value out of range")
            step *= 2
            high = base + step
        low, high = base + 1, min(high, _MAX_ORDINAL)
        while low < high:  # the count only grows with the day: the first that reaches `need`
            middle = (low + high) // 2
            if self._count(base, middle) >= need:
                high = middle
            else:
                low = middle + 1
        return dt.date.fromordinal(low)

    def _nth_before(self, end: int, need: int) -> dt.date:
        """The latest day before ordinal `end` with `need` working days in [day, end)."""
        step = need * 7 // 5 + need // 10 + 14  # weeks, plus room for a year's holidays
        low = end - step
        while self._count(max(low, 1) - 1, end - 1) < need:
            if low <= 1:
                raise OverflowError("date value out of range")
            step *= 2
            low = end - step
        low, high = max(low, 1), end - 1
        while low < high:  # the count only shrinks as the day moves later: the last with `need`
            middle = (low + high + 1) // 2
            if self._count(middle - 1, end - 1) >= need:
                low = middle
            else:
                high = middle - 1
        return dt.date.fromordinal(low)


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    """An aware datetime for a local (Asia/Shanghai) date and time."""
    return dt.datetime.combine(day, time, tzinfo=SHANGHAI)


def due_at_for(day: dt.date) -> dt.datetime:
    return at_local(day, DUE_TIME_OF_DAY)
