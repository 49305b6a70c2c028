"""Shared helpers for deadline tests: moments in Beijing time and the opened task."""

import datetime as dt

from workflows.common.calendar import SHANGHAI


def beijing(year, month, day, hour=10, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)
