"""Celery entry points for reports: ids in, the service renders and stores."""

from celery import shared_task


# Rendering is CPU-bound layout work: generous limits, no automatic retry (a failed report is
# marked failed with its error, and the user asks for a new version).
@shared_task(name="tasks.reports.render_report", soft_time_limit=300, time_limit=360)
def render_report(report_id: int) -> None:
    """Render one queued report (completion or programme) to PDF and store it."""
    from workflows.services import report_render

    report_render(report_id=report_id)


@shared_task(name="tasks.reports.run_schedules", ignore_result=True, soft_time_limit=300)
def run_schedules() -> str:
    """Beat's pass over the report schedules: queue each due run (once per period, however many
    beats or workers race), then tell the recipients of the runs whose report is ready."""
    from workflows.report_schedules import report_schedules_run

    return str(report_schedules_run())
