"""Cascading to many federations in the background: the request records a CascadeJob and
answers at once; a Celery task (tasks.cascades) creates the children batch by batch, each
batch in a transaction of its own, counting progress on the job.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from workflows.audit.trail import audit_record
from workflows.cases import cascade, selectors
from workflows.common import reach as access
from workflows.models import CascadeJob, CascadeJobState, Case, Organisation, OrganisationLevel

logger = logging.getLogger(__name__)

# More targets than this (a whole level at national scale) and the cascade runs as a job.
CASCADE_INLINE_MAX = 50


def cascade_request(
    *, case: Case, by, organisations=None, level=None
) -> cascade.CascadeResult | CascadeJob:
    """Cascade at once when the targets are few; else queue a job and return it."""
    access.check_can_coordinate(by, case.organisation)
    if not case.is_open:
        raise ValidationError("This case is completed; a completed case is not cascaded.")
    targets = cascade.cascade_targets(case=case, organisations=organisations, level=level)
    if len(targets) <= CASCADE_INLINE_MAX:
        return cascade.case_cascade(case=case, by=by, organisations=organisations, level=level)
    return cascade_job_start(case=case, by=by, targets=targets, level=level)


def cascade_job_start(*, case: Case, by, targets: list[Organisation], level=None) -> CascadeJob:
    """Record the job, audit it and queue its run once the transaction commits."""
    level_key = level.key if isinstance(level, OrganisationLevel) else (level or "")
    with transaction.atomic():
        job = CascadeJob.objects.create(
            case=case,
            requested_by=by,
            level=level_key,
            targets=[o.code for o in targets],
            total=len(targets),
        )
        audit_record(
            verb="cascade_job_started",
            actor=by,
            case=case,
            data={"job": job.pk, "level": level_key, "total": job.total},
        )
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from tasks.cascades import run_cascade_job

    try:
        run_cascade_job.delay(job_id)
    except Exception as exc:  # noqa: BLE001 - broker down: the job says so instead of waiting
        logger.warning("broker unavailable: cascade job %s not queued (%s)", job_id, exc)
        cascade_job_fail(job_id=job_id, error="The task queue was unavailable; cascade again.")


def cascade_job_run(*, job_id: int) -> CascadeJob | None:
    """Create the job's missing children in batches of cascade.CASCADE_BATCH, one transaction
    each, counting progress; a run again (a retry) skips federations that have their child.
    Returns the finished job, or None when it had already finished."""
    claimed = CascadeJob.objects.filter(
        pk=job_id, state__in=[CascadeJobState.QUEUED, CascadeJobState.RUNNING]
    ).update(state=CascadeJobState.RUNNING)
    if not claimed:
        return None
    job = CascadeJob.objects.select_related("case__measure", "case__organisation").get(pk=job_id)
    case, by = job.case, job.requested_by
    found = {
        o.code: o
        for o in Organisation.objects.filter(
            parent=case.organisation, code__in=job.targets
        ).select_related("level")
    }
    targets = [found[code] for code in job.targets if code in found]
    failed, errors, created, ok = job.total - len(targets), [], 0, 0
    for start in range(0, len(targets), cascade.CASCADE_BATCH):
        chunk = targets[start : start + cascade.CASCADE_BATCH]
        try:
            with transaction.atomic():
                result = cascade.CascadeResult()
                cap = cascade.cascade_deadline_cap(case)
                result.created, result.existing = cascade.cascade_batch(
                    case=case, by=by, targets=chunk, cap=cap
                )
                if result.created:
                    cascade.cascade_audit(
                        case=case,
                        by=by,
                        result=result,
                        level=job.level or None,
                        cap=cap,
                        job=job.pk,
                    )
                created += len(result.created)
            ok += len(chunk)
        except ValidationError as exc:
            failed += len(chunk)
            errors.append(" ".join(exc.messages))
        CascadeJob.objects.filter(pk=job.pk).update(done=ok, failed=failed)
    return _finish(job, failed=failed, error="\n".join(errors), created=created)


def _finish(job: CascadeJob, *, failed: int, error: str, created: int) -> CascadeJob:
    with transaction.atomic():
        job.refresh_from_db()
        job.failed, job.error = failed, error
        job.done = job.total - failed
        job.state = CascadeJobState.FAILED if failed else CascadeJobState.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["done", "failed", "state", "error", "finished_at"])
        audit_record(
            verb="cascade_job_finished",
            actor=job.requested_by,
            case=job.case,
            data={
                "job": job.pk,
                "state": job.state,
                "done": job.done,
                "failed": failed,
                "created": created,
                "error": error,
            },
        )
    return job


def cascade_job_fail(*, job_id: int, error: str) -> None:
    """A run that gave up (retries spent): the job is marked failed with the error, audited."""
    job = (
        CascadeJob.objects.filter(pk=job_id)
        .exclude(state__in=[CascadeJobState.DONE, CascadeJobState.FAILED])
        .first()
    )
    if job is not None:
        _finish(job, failed=job.total - job.done, error=error, created=0)


def cascade_job_get_visible(user, job_id: int) -> CascadeJob:
    """The job, if its case is one the user may see (the case's reach); else 404."""
    job = CascadeJob.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404
    job.case = selectors.case_get_visible(user, job.case_id)
    return job
