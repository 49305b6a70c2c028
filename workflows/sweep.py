"""The every-minute sweep (tasks.timers and `manage.py sweep`): viewflow timers, reports left
queued, reminders and rungs, the supervision share, then delivery; each part isolated from
the others' faults (workflows.deadlines.sweep_faults).
"""

import datetime as dt
import logging
import time

from django.conf import settings
from django.utils import timezone

from workflows.deadlines.escalation import SweepResult, alerts_sweep
from workflows.deadlines.sweep_faults import sweep_faults_store

logger = logging.getLogger(__name__)


_NO_BUDGET = object()


def sweep_run(
    *, now: dt.datetime | None = None, deliver: bool = True, budget=_NO_BUDGET
) -> SweepResult:
    """One sweep as if at `now`: fire viewflow timers, record due reminders and rungs, send.

    `budget`: seconds of reminder and rung work (settings.SWEEP_ALERT_BUDGET_SECONDS unless
    given; None for no limit); whatever is left is the next sweep's, first in line.

    Each part runs whatever happened to the parts before it, and a failing row costs only its
    own row (deadlines.sweep_faults): what failed is logged, recorded and skipped, and mail is
    delivered in any case.
    """
    from viewflow.workflow.timers import fire_due_timers

    from workflows.audit.sealer import audit_seal_pending
    from workflows.common.health import sweep_record
    from workflows.notifications.delivery import notifications_deliver_due
    from workflows.reports.services import report_list_recover
    from workflows.supervision.sweep import supervision_sweep

    now = now or timezone.now()
    if budget is _NO_BUDGET:
        budget = settings.SWEEP_ALERT_BUDGET_SECONDS
    result = SweepResult(now=now)
    faults = result.faults
    try:
        result.timers_fired = faults.part("timers", fire_due_timers, default=0)
        result.reports_resent = faults.part("reports", report_list_recover, default=0)
        started = time.perf_counter()
        faults.part(
            "alerts", lambda: alerts_sweep(now=now, result=result, budget=budget, faults=faults)
        )
        result.seconds["alerts"] = time.perf_counter() - started
        started = time.perf_counter()
        result.supervision = supervision_sweep(now=now, faults=faults)
        result.seconds["supervision"] = time.perf_counter() - started
    finally:
        # Mail never waits behind another part: it goes out whatever happened above.
        if deliver:
            started = time.perf_counter()
            delivery = faults.part("delivery", lambda: notifications_deliver_due(now=now))
            if delivery is not None:
                result.delivered, result.failed = delivery.sent, delivery.failed
            result.seconds["delivery"] = time.perf_counter() - started
        faults.part("faults", lambda: sweep_faults_store(faults, now=now))
        # Catch-up: events whose after-commit seal was lost (broker down, worker gone).
        faults.part("audit seal", audit_seal_pending, default=0)
        faults.part("health", lambda: sweep_record(timezone.now(), failed_parts=faults.parts))
    logger.log(logging.WARNING if faults.faults else logging.INFO, "%s", result)
    return result
