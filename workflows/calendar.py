"""The working-day calendar (Asia/Shanghai): which days count, and from which source.

Sources, strongest first:
1. CalendarDay rows an admin entered from the official schedule (holidays and make-up days);
2. the `chinese-calendar` package: official holidays and make-up days, but only up to 2026;
3. for later years, the statutory holidays the `holidays` package computes for China (lunar
   festivals included), marked provisional because make-up days are announced each December;
4. weekends alone, if even that fails: a date never raises.
"""

import datetime as dt
import logging
from dataclasses import dataclass
from functools import lru_cache
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


class WorkingCalendar:
    """Working-day arithmetic over the admin's overrides, loaded once per operation."""

    def __init__(self, overrides: dict[dt.date, tuple[bool, str]] | None = None):
        self.overrides = overrides or {}

    @classmethod
    def load(cls) -> "WorkingCalendar":
        """The calendar with every override row (a few dozen a year: one small query)."""
        from .models import CalendarDay, CalendarDayKind

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
            while not self.is_working(current):
                current += dt.timedelta(days=1)
            return current
        remaining = days
        while remaining > 0:
            current += dt.timedelta(days=1)
            if self.is_working(current):
                remaining -= 1
        return current

    def subtract_working_days(self, end: dt.date, days: int) -> dt.date:
        """The working day `days` working days before `end` (0: `end` itself)."""
        current = end
        remaining = days
        while remaining > 0:
            current -= dt.timedelta(days=1)
            if self.is_working(current):
                remaining -= 1
        return current

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (0 if end <= start)."""
        count, current = 0, start
        while current < end:
            current += dt.timedelta(days=1)
            count += self.is_working(current)
        return count


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    """An aware datetime for a local (Asia/Shanghai) date and time."""
    return dt.datetime.combine(day, time, tzinfo=SHANGHAI)


def due_at_for(day: dt.date) -> dt.datetime:
    return at_local(day, DUE_TIME_OF_DAY)
