"""The sweep isolates faults: a part (timers, reports, alerts, cycles, orders, lights, delivery)
or a row that fails is logged with its case, recorded and skipped, and the rest goes on.

A failing batch is split in halves, each retried in its own savepoint, down to the rows that
fail: a poisoned task or case costs its own row, not its batch. Each sweep stores what it met
(one open SweepFault per part, case and task, counted while it recurs; an audit event
`sweep_fault` when it first appears) and resolves the faults it no longer met; /healthz reports
the last sweep's failing parts from the shared cache.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, connection, transaction

logger = logging.getLogger(__name__)

# Failures of the whole database or of the time allowed, not of a row: retrying the rows one
# by one would only repeat them, so they fail the part at once.
_NOT_A_ROW = (OperationalError, InterfaceError, SoftTimeLimitExceeded)
ERROR_CHARS = 2000


@dataclass(frozen=True)
class Fault:
    part: str
    error: str
    case_id: int | None = None
    work_item_id: int | None = None

    @property
    def key(self) -> tuple:
        return (self.part, self.case_id, self.work_item_id)


@dataclass
class SweepFaults:
    """The faults one sweep met, in the order met."""

    faults: list[Fault] = field(default_factory=list)

    @property
    def parts(self) -> list[str]:
        """The parts that failed, each once, in the order they failed."""
        return list(dict.fromkeys(f.part for f in self.faults))

    def record(self, part: str, exc: BaseException, *, case_id=None, work_item_id=None) -> None:
        """Log the failure with its case and task, and keep it for sweep_faults_store."""
        error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
        logger.error(
            "sweep: %s failed (case %s, task %s), skipped: %s",
            part,
            case_id,
            work_item_id,
            error,
            exc_info=exc,
        )
        self.faults.append(Fault(part, error, case_id, work_item_id))

    def part(self, name: str, run: Callable, default=None):
        """run()'s value, or `default` once its failure is recorded: the sweep goes on."""
        try:
            if connection.in_atomic_block:
                # Inside a caller's transaction (a test, a shell): a savepoint keeps it usable.
                with transaction.atomic():
                    return run()
            return run()
        except Exception as exc:  # noqa: BLE001 - recorded and skipped; see the module doc
            self.record(name, exc)
            return default

    def rows(
        self,
        name: str,
        rows: Sequence,
        run: Callable[[Sequence], object],
        *,
        case_of: Callable,
        item_of: Callable | None = None,
    ) -> list:
        """run(rows) in a savepoint; if it fails, each half is retried the same way, down to
        the single rows that fail, which are recorded with their case and skipped. Returns the
        values of the runs that succeeded (one for a clean batch)."""
        if not rows:
            return []
        try:
            with transaction.atomic():
                return [run(rows)]
        except _NOT_A_ROW:
            raise
        except Exception as exc:  # noqa: BLE001 - narrowed to the failing rows below
            if len(rows) == 1:
                row = rows[0]
                self.record(
                    name,
                    exc,
                    case_id=case_of(row),
                    work_item_id=item_of(row) if item_of else None,
                )
                return []
        middle = len(rows) // 2
        kwargs = {"case_of": case_of, "item_of": item_of}
        return self.rows(name, rows[:middle], run, **kwargs) + self.rows(
            name, rows[middle:], run, **kwargs
        )


def sweep_faults_store(faults: SweepFaults, *, now) -> None:
    """Record this sweep's faults: an open SweepFault per (part, case, task), counted while it
    recurs, with an audit event `sweep_fault` when it first appears; the open faults this sweep
    did not meet are resolved. Two queries when nothing failed and nothing was open."""
    from workflows.audit.trail import audit_record_many
    from workflows.models import Case, SweepFault, WorkItem

    met: dict[tuple, Fault] = {}
    for fault in faults.faults:
        met[fault.key] = fault  # the last error of a repeated one
    with transaction.atomic():
        open_faults = {
            (f.part, f.case_id, f.work_item_id): f
            for f in SweepFault.objects.select_for_update().filter(resolved_at__isnull=True)
        }
        again = [open_faults[key] for key in met if key in open_faults]
        for row in again:
            fault = met[(row.part, row.case_id, row.work_item_id)]
            row.error, row.last_at, row.occurrences = fault.error, now, row.occurrences + 1
        SweepFault.objects.bulk_update(again, ["error", "last_at", "occurrences"])
        still = {row.pk for row in again}
        resolved = [row.pk for row in open_faults.values() if row.pk not in still]
        if resolved:
            SweepFault.objects.filter(pk__in=resolved).update(resolved_at=now)
        new = [fault for key, fault in met.items() if key not in open_faults]
        if not new:
            return
        cases = Case.objects.in_bulk({f.case_id for f in new} - {None})
        items = WorkItem.objects.in_bulk({f.work_item_id for f in new} - {None})
        SweepFault.objects.bulk_create(
            [
                SweepFault(
                    part=f.part,
                    case=cases.get(f.case_id),
                    work_item=items.get(f.work_item_id),
                    error=f.error,
                    first_at=now,
                    last_at=now,
                )
                for f in new
            ]
        )
        audit_record_many(
            [
                {
                    "verb": "sweep_fault",
                    "case": cases.get(f.case_id),
                    "work_item": items.get(f.work_item_id),
                    "data": {"part": f.part, "error": f.error[:500]},
                }
                for f in new
            ]
        )
