"""Cascading to many federations in the background: the request records a CascadeJob and
answers at once; a Celery task (tasks.cascades) runs it (cases.cascade_run).
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as KombuOperationalError

from workflows.audit.trail import audit_record
from workflows.cases import cascade, selectors
from workflows.cases.cascade_run import cascade_job_fail
from workflows.common import reach as access
from workflows.models import CascadeJob, Case, Organisation, OrganisationLevel

logger = logging.getLogger(__name__)

# More targets than this (a whole level at national scale) and the cascade runs as a job.
CASCADE_INLINE_MAX = 50


def cascade_request(
    *, case: Case, by, organisations=None, level=None
) -> cascade.CascadeResult | CascadeJob:
    """Cascade at once when the targets are few; else queue a job and return it."""
    access.check_can_coordinate(by, case.organisation)
    if not case.is_open:
        raise ValidationError(_("This case is completed; a completed case is not cascaded."))
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
    except KombuOperationalError as exc:  # broker down: the job says so instead of waiting
        logger.warning("broker unavailable: cascade job %s not queued (%s)", job_id, exc)
        cascade_job_fail(job_id=job_id, error="The task queue was unavailable; cascade again.")


def cascade_job_get_visible(user, job_id: int) -> CascadeJob:
    """The job, if its case is one the user may see (the case's reach); else 404."""
    job = CascadeJob.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404
    job.case = selectors.case_get_visible(user, job.case_id)
    return job
