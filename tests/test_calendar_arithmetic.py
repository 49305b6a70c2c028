"""Working-day arithmetic: the same answers as walking the days one by one, at a cost that does
not grow with the span (counted in calendar lookups, not timed)."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.common import calendar as calendar_module
from workflows.common.calendar import WorkingCalendar

D = dt.date


# The reference: the one-day-at-a-time loops the calendar used before (kept here, verbatim).
def naive_add(calendar, start, days):
    current = start
    if days == 0:
        while not calendar.is_working(current):
            current += dt.timedelta(days=1)
        return current
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if calendar.is_working(current):
            remaining -= 1
    return current


def naive_subtract(calendar, end, days):
    current, remaining = end, days
    while remaining > 0:
        current -= dt.timedelta(days=1)
        if calendar.is_working(current):
            remaining -= 1
    return current


def naive_between(calendar, start, end):
    count, current = 0, start
    while current < end:
        current += dt.timedelta(days=1)
        count += calendar.is_working(current)
    return count


# Spans across the official years (to 2026), the provisional ones (to 2100) and beyond.
dates = st.dates(min_value=D(1998, 1, 1), max_value=D(2110, 12, 31))
overrides = st.dictionaries(dates, st.tuples(st.booleans(), st.just("override")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(start=dates, days=st.integers(min_value=0, max_value=2000), days_off=overrides)
def test_adding_and_subtracting_match_the_day_by_day_walk(start, days, days_off):
    calendar = WorkingCalendar(days_off)
    assert calendar.add_working_days(start, days) == naive_add(calendar, start, days)
    assert calendar.subtract_working_days(start, days) == naive_subtract(calendar, start, days)


@settings(max_examples=150, deadline=None)
@given(start=dates, end=dates, days_off=overrides)
def test_counting_matches_the_day_by_day_walk(start, end, days_off):
    calendar = WorkingCalendar(days_off)
    assert calendar.working_days_between(start, end) == naive_between(calendar, start, end)


def test_a_long_closure_entered_as_overrides_is_counted_like_the_walk():
    # An admin closing three months (a long run of days off) and opening two weekends.
    closed = {D(2027, 1, 1) + dt.timedelta(days=n): (False, "closed") for n in range(90)}
    closed |= {D(2027, 6, 5): (True, "open"), D(2027, 6, 6): (True, "open")}
    calendar = WorkingCalendar(closed)
    for start in (D(2026, 12, 20), D(2027, 1, 15), D(2027, 3, 30)):
        for days in (0, 1, 5, 70, 400):
            assert calendar.add_working_days(start, days) == naive_add(calendar, start, days)
            end = start + dt.timedelta(days=days * 2)
            assert calendar.subtract_working_days(end, days) == naive_subtract(calendar, end, days)
            assert calendar.working_days_between(start, end) == naive_between(calendar, start, end)


class CountingCalendar(WorkingCalendar):
    """Counts the per-day lookups, which is what the old loops spent their time on."""

    lookups = 0

    def day(self, day):
        CountingCalendar.lookups += 1
        return super().day(day)


def test_a_five_year_span_costs_a_bounded_number_of_lookups(monkeypatch):
    years_computed = []
    original = calendar_module._year_exceptions.__wrapped__

    def counted(year):
        years_computed.append(year)
        return original(year)

    # A fresh per-year cache, counted, so earlier tests' warm cache does not hide the work.
    monkeypatch.setattr(calendar_module, "_year_exceptions", counted)
    calendar = CountingCalendar()
    start = D(2027, 3, 1)
    CountingCalendar.lookups = 0
    end = calendar.add_working_days(start, 5 * 250)
    assert calendar.working_days_between(start, end) == 5 * 250
    assert calendar.subtract_working_days(end, 5 * 250) == start
    # The walk would look up every day of the span three times (about 5,500 lookups); the
    # arithmetic looks up at most WALK_LIMIT days per call and reads each year's exceptions.
    assert CountingCalendar.lookups <= 3 * (calendar_module.WALK_LIMIT + 1)
    # Each year of the span (and the one the search may look past it) is read once.
    assert len(set(years_computed)) <= 7


def test_the_cost_does_not_grow_with_the_span_even_to_the_last_date(monkeypatch):
    calendar = CountingCalendar()
    CountingCalendar.lookups = 0
    today = D(2026, 12, 4)
    # A due date of 9999-12-31 made the supervision page walk eight thousand years.
    days = calendar.working_days_between(today, D(9999, 12, 31))
    assert days > 2_000_000
    assert calendar.add_working_days(today, days) == D(9999, 12, 31)
    assert calendar.subtract_working_days(D(9999, 12, 31), days) == calendar.add_working_days(
        today, 0
    )
    assert CountingCalendar.lookups <= 3 * (calendar_module.WALK_LIMIT + 1)
