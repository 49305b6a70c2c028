"""A cascade job's progress page: it refreshes itself until the job has finished."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from workflows.cases import cascade_jobs

# Seconds between refreshes of the progress page while the job runs.
REFRESH_SECONDS = 3


@login_required
def cascade_job(request, job_id):
    """The job's progress, for those who may see its case."""
    job = cascade_jobs.cascade_job_get_visible(request.user, job_id)
    return render(
        request,
        "workflows/cascade_job.html",
        {"job": job, "case": job.case, "refresh": None if job.is_finished else REFRESH_SECONDS},
    )
