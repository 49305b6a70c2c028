"""Reformflow's pages inside viewflow's site (menu, layout), plus viewflow's own flow pages."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application, Site
from viewflow.workflow.flow import FlowAppViewset

from workflows.cases.flow import MeasureFlow
from workflows.web import appraisal as web_appraisal
from workflows.web import calendar_feed as views_calendar
from workflows.web import cascade_jobs as web_cascade_jobs
from workflows.web import cases as web_cases
from workflows.web import dashboard as views_dashboard
from workflows.web import desk as views_desk
from workflows.web import notifications as web_notifications
from workflows.web import reports as web_reports
from workflows.web import saved_views as views_saved
from workflows.web import search as views_search
from workflows.web import substitutes as views_substitutes
from workflows.web import supervision as views_supervision
from workflows.web import tasks as web_tasks
from workflows.web import work as views_work


class ReformApp(Application):
    title = _("Reform programme")
    icon = "assignment"
    app_name = "workflows"
    menu_template_name = "workflows/app_menu.html"
    # Plain form posts (file uploads, redirects) instead of Turbo navigation.
    turbo_disabled = True

    index_path = path("", web_cases.home, name="index")
    dashboard_path = path("dashboard/", web_cases.dashboard, name="dashboard")
    work_path = path("my-work/", views_work.my_work, name="my_work")
    substitute_path = path("me/substitute/", views_substitutes.my_substitute, name="substitute")
    calendar_path = path("me/calendar/", views_calendar.my_calendar, name="calendar")
    urge_path = path("urge/<str:target>/<int:pk>/", views_work.urge, name="urge")
    dashboard_cases_path = path(
        "dashboard/cases/", views_dashboard.dashboard_cases, name="dashboard_cases"
    )
    dashboard_wall_path = path(
        "dashboard/wall/", views_dashboard.dashboard_wall, name="dashboard_wall"
    )
    inbox_path = path("inbox/", web_cases.inbox, name="inbox")
    queue_path = path("queue/", web_cases.queue, name="queue")
    archive_path = path("archive/", web_cases.archive, name="archive")
    launch_path = path("launch/", web_cases.launch, name="launch")
    case_path = path("cases/<int:case_id>/", web_cases.case_detail, name="case")
    comment_path = path("cases/<int:case_id>/comment/", web_cases.case_comment, name="comment")
    cascade_path = path("cases/<int:case_id>/cascade/", web_cases.case_cascade, name="cascade")
    cascade_job_path = path(
        "cascade-jobs/<int:job_id>/", web_cascade_jobs.cascade_job, name="cascade_job"
    )
    evidence_path = path(
        "evidence/<int:evidence_id>/", web_cases.evidence_download, name="evidence"
    )
    task_path = path("tasks/<int:task_id>/", web_tasks.task_detail, name="task")
    reassign_path = path("tasks/<int:task_id>/reassign/", web_tasks.task_reassign, name="reassign")
    deadline_path = path("tasks/<int:task_id>/deadline/", web_tasks.task_deadline, name="deadline")
    override_path = path(
        "tasks/<int:task_id>/override/", web_tasks.task_guard_override, name="guard_override"
    )
    notifications_path = path(
        "notifications/", web_notifications.notification_log, name="notifications"
    )
    preferences_path = path(
        "me/notifications/", web_notifications.notification_preferences, name="preferences"
    )
    # The audit desk (auditors and coordinators).
    audit_path = path("desk/audit/", views_desk.audit_trail, name="audit")
    audit_csv_path = path("desk/audit.csv", views_desk.audit_csv, name="audit_csv")
    audit_verify_path = path("desk/audit/verify/", views_desk.audit_verify, name="audit_verify")
    programme_csv_path = path("desk/programme.csv", views_desk.programme_csv, name="programme_csv")
    programme_xlsx_path = path(
        "desk/programme.xlsx", views_desk.programme_xlsx, name="programme_xlsx"
    )
    reports_path = path("reports/", web_reports.reports, name="reports")
    report_request_path = path(
        "reports/request/", web_reports.report_request, name="report_request"
    )
    report_status_path = path(
        "reports/<int:report_id>/status/", web_reports.report_status, name="report_status"
    )
    report_download_path = path(
        "reports/<int:report_id>/download/", web_reports.report_download, name="report_download"
    )
    report_regenerate_path = path(
        "reports/<int:report_id>/regenerate/",
        web_reports.report_regenerate,
        name="report_regenerate",
    )
    # Supervision (督查督办): workflows/web/supervision.py
    supervision_path = path(
        "cases/<int:case_id>/supervision/", views_supervision.case_supervision, name="supervision"
    )
    cycle_path = path("cycles/<int:cycle_id>/", views_supervision.cycle_detail, name="cycle")
    appraisal_path = path("appraisal/", web_appraisal.appraisal_page, name="appraisal")
    appraisal_department_path = path(
        "appraisal/departments/<int:department_id>/",
        web_appraisal.appraisal_department,
        name="appraisal_department",
    )
    bulletin_path = path("appraisal/bulletin.pdf", web_appraisal.bulletin_pdf, name="bulletin")
    search_path = path("search/", views_search.search_page, name="search")
    saved_view_path = path("views/save/", views_saved.saved_view_save, name="saved_view_save")
    saved_view_delete_path = path(
        "views/<int:view_id>/delete/", views_saved.saved_view_delete, name="saved_view_delete"
    )
    ledger_path = path("ledger.<str:fmt>", web_appraisal.ledger_export, name="ledger")


def opens_engine(user) -> bool:
    """viewflow's engine pages, and their menu entry: whoever the flow lets view them."""
    return MeasureFlow.instance.has_view_permission(user)


reform_app = ReformApp()
site = Site(
    title=_("Reformflow"),
    # The indigo of our buttons and of the login page's header, instead of Material's purple.
    primary_color="#3949ab",
    viewsets=[
        reform_app,
        Application(
            title=_("Workflow engine"),
            icon="account_tree",
            app_name="engine",
            # Without it the menu offers the engine to everyone, and the pages answer 403.
            permission=opens_engine,
            viewsets=[FlowAppViewset(MeasureFlow, icon="account_tree")],
        ),
    ],
)
