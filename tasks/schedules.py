"""Celery entry point for scheduled reports: beat's pass over the schedules.

Apart from tasks/reports.py because the schedules' service queues renders through that
module (a module of its own keeps the import graph free of cycles); the task keeps its name
and so its queue (`tasks.reports.*` -> reports).
"""

from celery import shared_task


@shared_task(name="tasks.reports.run_schedules", ignore_result=True, soft_time_limit=300)
def run_schedules() -> str:
    """Beat's pass over the report schedules: queue each due run (once per period, however many
    beats or workers race), then tell the recipients of the runs whose report is ready."""
    from workflows.reports.schedules import report_schedules_run

    return str(report_schedules_run())
