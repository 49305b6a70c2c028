"""Reformflow's pages inside viewflow's site (menu, layout), plus viewflow's own flow pages."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application, Site
from viewflow.workflow.flow import FlowAppViewset

from . import (
    views,
    views_dashboard,
    views_desk,
    views_saved,
    views_search,
    views_substitutes,
    views_supervision,
    views_work,
)
from .flows import MeasureFlow


class ReformApp(Application):
    title = _("Reform programme")
    icon = "assignment"
    app_name = "workflows"
    menu_template_name = "workflows/app_menu.html"
    # Plain form posts (file uploads, redirects) instead of Turbo navigation.
    turbo_disabled = True

    index_path = path("", views.home, name="index")
    dashboard_path = path("dashboard/", views.dashboard, name="dashboard")
    work_path = path("my-work/", views_work.my_work, name="my_work")
    substitute_path = path("me/substitute/", views_substitutes.my_substitute, name="substitute")
    urge_path = path("urge/<str:target>/<int:pk>/", views_work.urge, name="urge")
    dashboard_cases_path = path(
        "dashboard/cases/", views_dashboard.dashboard_cases, name="dashboard_cases"
    )
    dashboard_wall_path = path(
        "dashboard/wall/", views_dashboard.dashboard_wall, name="dashboard_wall"
    )
    inbox_path = path("inbox/", views.inbox, name="inbox")
    queue_path = path("queue/", views.queue, name="queue")
    archive_path = path("archive/", views.archive, name="archive")
    launch_path = path("launch/", views.launch, name="launch")
    case_path = path("cases/<int:case_id>/", views.case_detail, name="case")
    comment_path = path("cases/<int:case_id>/comment/", views.case_comment, name="comment")
    cascade_path = path("cases/<int:case_id>/cascade/", views.case_cascade, name="cascade")
    evidence_path = path("evidence/<int:evidence_id>/", views.evidence_download, name="evidence")
    task_path = path("tasks/<int:task_id>/", views.task_detail, name="task")
    reassign_path = path("tasks/<int:task_id>/reassign/", views.task_reassign, name="reassign")
    deadline_path = path("tasks/<int:task_id>/deadline/", views.task_deadline, name="deadline")
    override_path = path(
        "tasks/<int:task_id>/override/", views.task_guard_override, name="guard_override"
    )
    notifications_path = path("notifications/", views.notification_log, name="notifications")
    preferences_path = path("me/notifications/", views.notification_preferences, name="preferences")
    # The audit desk (auditors and coordinators).
    audit_path = path("desk/audit/", views_desk.audit_trail, name="audit")
    audit_csv_path = path("desk/audit.csv", views_desk.audit_csv, name="audit_csv")
    audit_verify_path = path("desk/audit/verify/", views_desk.audit_verify, name="audit_verify")
    programme_csv_path = path("desk/programme.csv", views_desk.programme_csv, name="programme_csv")
    programme_xlsx_path = path(
        "desk/programme.xlsx", views_desk.programme_xlsx, name="programme_xlsx"
    )
    reports_path = path("reports/", views.reports, name="reports")
    report_request_path = path("reports/request/", views.report_request, name="report_request")
    report_status_path = path(
        "reports/<int:report_id>/status/", views.report_status, name="report_status"
    )
    report_download_path = path(
        "reports/<int:report_id>/download/", views.report_download, name="report_download"
    )
    report_regenerate_path = path(
        "reports/<int:report_id>/regenerate/", views.report_regenerate, name="report_regenerate"
    )
    # Supervision (督查督办): workflows/views_supervision.py
    supervision_path = path(
        "cases/<int:case_id>/supervision/", views_supervision.case_supervision, name="supervision"
    )
    cycle_path = path("cycles/<int:cycle_id>/", views_supervision.cycle_detail, name="cycle")
    appraisal_path = path("appraisal/", views_supervision.appraisal_page, name="appraisal")
    appraisal_department_path = path(
        "appraisal/departments/<int:department_id>/",
        views_supervision.appraisal_department,
        name="appraisal_department",
    )
    bulletin_path = path("appraisal/bulletin.pdf", views_supervision.bulletin_pdf, name="bulletin")
    search_path = path("search/", views_search.search_page, name="search")
    saved_view_path = path("views/save/", views_saved.saved_view_save, name="saved_view_save")
    saved_view_delete_path = path(
        "views/<int:view_id>/delete/", views_saved.saved_view_delete, name="saved_view_delete"
    )
    ledger_path = path("ledger.<str:fmt>", views_supervision.ledger_export, name="ledger")


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
