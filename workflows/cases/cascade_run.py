"""Running a cascade job (the Celery task tasks.cascades calls these): the children are made
batch by batch, each batch in a transaction of its own, counting progress on the job.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from workflows.audit.trail import audit_record
from workflows.cases import cascade
from workflows.models import CascadeJob, CascadeJobState, Organisation


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
