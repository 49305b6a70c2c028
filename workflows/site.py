"""Reformflow's pages inside viewflow's site (menu, layout), plus viewflow's own flow pages."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application, Site
from viewflow.workflow.flow import FlowAppViewset

from . import views
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


site = Site(
    title="Reformflow",
    viewsets=[
        ReformApp(),
        Application(
            title=_("Workflow engine"),
            icon="account_tree",
            app_name="engine",
            viewsets=[FlowAppViewset(MeasureFlow, icon="account_tree")],
        ),
    ],
)
