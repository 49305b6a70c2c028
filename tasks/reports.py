"""Celery entry points for reports: ids in, the service renders and stores."""

from celery import shared_task


# Rendering is CPU-bound layout work: generous limits, no automatic retry (a failed report is
# marked failed with its error, and the user asks for a new version).
@shared_task(name="tasks.reports.render_report", soft_time_limit=300, time_limit=360)
def render_report(report_id: int) -> None:
    """Render one queued report (completion or programme) to PDF and store it."""
    from workflows.reports.generate import report_render

    report_render(report_id=report_id)
