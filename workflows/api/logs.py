"""API views for the logs: a caller's notification log and the audit trail (auditors and
coordinators).
"""

from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import exceptions, permissions
from rest_framework.generics import GenericAPIView

from workflows.api.errors import BadRequest, error_responses
from workflows.api.inputs import parse_moment, reject_empty_filters
from workflows.api.keyset import KeysetPagination
from workflows.api.permissions import AuditorsAndCoordinators, AuditorsReadOnly
from workflows.api.serializers import AuditEventSerializer, NotificationSerializer
from workflows.cases import selectors
from workflows.common import reach as access
from workflows.common.db_router import replica_view
from workflows.models import (
    NotificationStatus,
)


@extend_schema(tags=["notifications"])
class NotificationListView(GenericAPIView):
    """The notification log (coordinators and auditors), newest first, paged by id."""

    serializer_class = NotificationSerializer
    # A million messages: `before`/`after` links, no COUNT(*) and no OFFSET (as the trail).
    pagination_class = KeysetPagination

    @extend_schema(
        operation_id="notification_list",
        parameters=[
            OpenApiParameter(
                "status", str, enum=NotificationStatus.values, description="Only this status"
            ),
            OpenApiParameter("task", int, description="Only this task's messages"),
        ],
        responses={200: NotificationSerializer(many=True), **error_responses(400, 403)},
    )
    def get(self, request):
        """Each message: recipient, kind, task, rung, status, attempts and times."""
        if not access.reads_logs(request.user):
            raise exceptions.PermissionDenied("Only coordinators and auditors see the log.")
        reject_empty_filters(request)
        status_filter = request.query_params.get("status") or None
        if status_filter and status_filter not in NotificationStatus.values:
            raise BadRequest(f"status must be one of {', '.join(NotificationStatus.values)}")
        rows = selectors.notification_list(request.user, status=status_filter)
        task = request.query_params.get("task")
        if task:
            if not task.isdigit() or int(task) >= 2**63:
                raise BadRequest("task must be a task id")
            rows = rows.filter(work_item=int(task))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)


@extend_schema(tags=["audit"])
class AuditEventListView(GenericAPIView):
    """The audit trail, newest first (auditors and coordinators), paged by id."""

    serializer_class = AuditEventSerializer
    pagination_class = KeysetPagination
    permission_classes = [
        permissions.IsAuthenticated,
        AuditorsReadOnly,
        AuditorsAndCoordinators,
    ]

    @extend_schema(
        operation_id="audit_list",
        parameters=[
            OpenApiParameter("verb", OpenApiTypes.STR, description="e.g. approved, logged_in"),
            OpenApiParameter("case", OpenApiTypes.INT, description="Case id"),
            OpenApiParameter("actor", OpenApiTypes.STR, description='Username, or "system"'),
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="ISO 8601 date or datetime, inclusive"
            ),
            OpenApiParameter(
                "until",
                OpenApiTypes.DATETIME,
                description="ISO 8601 datetime (exclusive) or date (that whole day included)",
            ),
        ],
        responses={200: AuditEventSerializer(many=True), **error_responses(400, 401, 403)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """Audit events filtered by verb, case, actor and time, newest first."""
        reject_empty_filters(request)
        case = request.query_params.get("case", "").strip()
        if case and (not case.isdigit() or int(case) >= 2**63):
            raise BadRequest(f"case: expected a case id, got {case!r}.")
        events = selectors.audit_event_list(
            request.user,
            verb=request.query_params.get("verb", "").strip(),
            actor=request.query_params.get("actor", "").strip(),
            case_id=int(case) if case else None,
            since=parse_moment(request, "since"),
            until=parse_moment(request, "until", end=True),
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)
