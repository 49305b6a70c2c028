"""The supervision share of the sweep: close and open feedback cycles, remind, step orders up,
refresh lights; each part isolated from the others' faults.
"""

import logging
import time
from dataclasses import dataclass, field

from django.utils import timezone

from workflows.common.calendar import WorkingCalendar
from workflows.supervision import lights
from workflows.supervision.cycles import (
    feedback_cycles_close,
    feedback_cycles_open,
    feedback_reminders,
)
from workflows.supervision.orders import orders_step_up

logger = logging.getLogger(__name__)


@dataclass
class SupervisionSweep:
    cycles_opened: int = 0
    cycles_missed: int = 0
    feedback_reminders: int = 0
    orders_stepped_up: int = 0
    lights_refreshed: int = 0
    # Seconds per part, for the logs and the bench.
    seconds: dict = field(default_factory=dict)


def supervision_sweep(*, now=None, faults=None) -> SupervisionSweep:
    """Called by escalation.sweep_run: cycles, their reminders, order step-ups and lights.
    Each part runs whatever happened to the others; a failure is recorded in `faults`
    (workflows.deadlines.sweep_faults) and skipped."""
    from workflows.deadlines.sweep_faults import SweepFaults

    now = now or timezone.now()
    faults = faults if faults is not None else SweepFaults()
    calendar = faults.part("calendar", WorkingCalendar.load)
    result = SupervisionSweep()

    def timed(part, run):
        started = time.perf_counter()
        value = faults.part(part, run, default=0)
        result.seconds[part] = time.perf_counter() - started
        return value

    result.cycles_missed = timed(
        "cycles_close", lambda: feedback_cycles_close(now=now, faults=faults)
    )
    result.cycles_opened = timed(
        "cycles_open", lambda: feedback_cycles_open(now=now, calendar=calendar)
    )
    result.feedback_reminders = timed(
        "feedback_reminders", lambda: feedback_reminders(now=now, calendar=calendar)
    )
    result.orders_stepped_up = timed(
        "orders_step_up", lambda: orders_step_up(now=now, faults=faults)
    )
    result.lights_refreshed = timed("lights", lambda: lights.lights_sweep(now=now, faults=faults))
    logger.info("supervision sweep: %s", result)
    return result
