"""The API's URLs (included at `api/`): the OpenAPI schema and version 1 of the endpoints."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from workflows.api.cascade_jobs import CascadeJobView
from workflows.api.cases import CaseViewSet, MeasureListView
from workflows.api.logs import AuditEventListView, NotificationListView
from workflows.api.reports import ReportViewSet
from workflows.api.search import SearchView
from workflows.api.supervision_urls import urlpatterns as supervision_urls
from workflows.api.tasks import TaskViewSet
from workflows.api.work import MyWorkView, UrgeView

app_name = "api"


def _task_action(method: str):
    return TaskViewSet.as_view({"post": method})


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("v1/measures/", MeasureListView.as_view(), name="measure-list"),
    path("v1/me/work/", MyWorkView.as_view(), name="me-work"),
    path("v1/urge/<str:target>/<int:item_id>", UrgeView.as_view(), name="urge"),
    path("v1/cases/", CaseViewSet.as_view({"get": "list", "post": "create"}), name="case-list"),
    path("v1/cases/<int:pk>/", CaseViewSet.as_view({"get": "retrieve"}), name="case-detail"),
    path(
        "v1/cases/<int:pk>/cascade",
        CaseViewSet.as_view({"post": "cascade"}),
        name="case-cascade",
    ),
    path("v1/cascade-jobs/<int:pk>", CascadeJobView.as_view(), name="cascade-job"),
    path("v1/tasks/", TaskViewSet.as_view({"get": "list"}), name="task-list"),
    path("v1/tasks/<int:pk>/", TaskViewSet.as_view({"get": "retrieve"}), name="task-detail"),
    path("v1/tasks/<int:pk>/approve", _task_action("approve"), name="task-approve"),
    path("v1/tasks/<int:pk>/return", _task_action("return_work"), name="task-return"),
    path("v1/tasks/<int:pk>/complete", _task_action("complete"), name="task-complete"),
    path("v1/tasks/<int:pk>/progress", _task_action("progress"), name="task-progress"),
    path("v1/tasks/<int:pk>/claim", _task_action("claim"), name="task-claim"),
    path(
        "v1/tasks/<int:pk>/override-guard",
        _task_action("override_guard"),
        name="task-override-guard",
    ),
    path("v1/tasks/<int:pk>/reassign", _task_action("reassign"), name="task-reassign"),
    path(
        "v1/tasks/<int:pk>/assignees",
        TaskViewSet.as_view({"get": "assignees"}),
        name="task-assignees",
    ),
    path("v1/tasks/<int:pk>/extend", _task_action("extend"), name="task-extend"),
    path("v1/tasks/<int:pk>/pause", _task_action("pause"), name="task-pause"),
    path("v1/tasks/<int:pk>/resume", _task_action("resume"), name="task-resume"),
    path("v1/notifications/", NotificationListView.as_view(), name="notification-list"),
    path("v1/search/", SearchView.as_view(), name="search"),
    path("v1/audit/", AuditEventListView.as_view(), name="audit-list"),
    path(
        "v1/reports/",
        ReportViewSet.as_view({"get": "list", "post": "create"}),
        name="report-list",
    ),
    path("v1/reports/<int:pk>/", ReportViewSet.as_view({"get": "retrieve"}), name="report-detail"),
]
urlpatterns += supervision_urls  # the supervision layer (issue 19)
