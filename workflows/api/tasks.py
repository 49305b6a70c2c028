"""API views for tasks: lists, detail, and each decision (approve, return, complete,
progress, claim, reassign, deadline changes), each one service call.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import viewsets
from rest_framework.response import Response

from workflows.api.errors import BadRequest, error_responses
from workflows.api.inputs import (
    SCOPE_PARAMETERS,
    ApproveInput,
    CompleteInput,
    ExtendInput,
    OverrideInput,
    PauseInput,
    ProgressInput,
    ReassignInput,
    ReturnInput,
    filter_scope,
    parse_input,
    scope_filters,
)
from workflows.api.pagination import StrictLimitOffsetPagination
from workflows.api.serializers import (
    AssigneeSerializer,
    ProgressUpdateSerializer,
    TaskSerializer,
    task_list_data,
    with_candidates,
)
from workflows.cases import selectors, services, task_rows
from workflows.common import page_cache, reassignment
from workflows.common import reach as access
from workflows.deadlines import due_dates as deadlines
from workflows.models import (
    COMPLETED_KINDS,
    WorkItem,
)
from workflows.organisations import profiles

_ACTION_ERRORS = error_responses(400, 403, 404, 409)
# As the API's case list (api/cases.py): what time alone changes and writes made outside the
# code show within a minute; every task write is audited on its case, which moves the stamp.
TASK_LIST_CACHE_SECONDS = 60


@extend_schema(tags=["tasks"])
class TaskViewSet(viewsets.GenericViewSet):
    """Open tasks (inbox and queues) and the actions on them; each action calls one service."""

    serializer_class = TaskSerializer
    pagination_class = StrictLimitOffsetPagination

    def get_queryset(self) -> QuerySet[WorkItem]:
        user = self.request.user
        if self.action == "list":
            return with_candidates(selectors.work_item_list_open_for(user))
        # Any task, open or done, on a case the caller can see; anything else is a 404.
        return with_candidates(selectors.work_item_rows(access.work_item_list_visible(user)))

    def _task_response(self, item: WorkItem) -> Response:
        return Response(TaskSerializer(self.get_queryset().get(pk=item.pk)).data)

    @extend_schema(
        operation_id="task_list",
        parameters=SCOPE_PARAMETERS,
        responses={200: TaskSerializer(many=True), **error_responses(400)},
    )
    def list(self, request):
        """The caller's open tasks: assigned to them, or waiting in a queue they serve."""
        organisation, level = scope_filters(request)
        paginator = self.paginator
        limit, offset = paginator.window(request)
        # Per person (their own reach: the queues they serve, whom they stand in for), under
        # the stamp of their federation, with the filters and page window.
        key = page_cache.cache_key(
            "api-tasks",
            request.user,
            organisation.pk if organisation else None,
            level or "",
            limit,
            offset,
            personal=True,
        )

        def page() -> tuple[int, list[dict]]:
            tasks = selectors.work_item_list_open_for(request.user, rows=False)
            tasks = filter_scope(tasks, organisation, level, prefix="case__")
            # The page's ids alone, then its rows as plain values (the same JSON as
            # TaskSerializer's, whose fields and prefetches cost more than the rows).
            ids = paginator.paginate_queryset(tasks.values_list("pk", flat=True), request, self)
            return paginator.count, task_list_data(task_rows.task_list_rows(ids))

        count, data = page_cache.kept(key, page, TASK_LIST_CACHE_SECONDS)
        paginator.paginate_known(request, count=count)  # the links, from this request
        return paginator.get_paginated_response(data)

    @extend_schema(operation_id="task_get", responses={200: TaskSerializer, **error_responses(404)})
    def retrieve(self, request, pk):
        """One task, open or done, on a case the caller can see."""
        return Response(TaskSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="task_approve",
        request=ApproveInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def approve(self, request, pk):
        """Approve an approval, review or sign-off step."""
        item = self.get_object()
        data = parse_input(ApproveInput, request)
        return self._task_response(
            services.task_approve(item=item, user=request.user, comment=data["comment"])
        )

    @extend_schema(
        operation_id="task_return",
        request=ReturnInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def return_work(self, request, pk):
        """Return the work for rework (a reason is required)."""
        item = self.get_object()
        data = parse_input(ReturnInput, request)
        return self._task_response(
            services.task_return(item=item, user=request.user, reason=data["reason"])
        )

    @extend_schema(
        operation_id="task_complete",
        request=CompleteInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def complete(self, request, pk):
        """Complete a submit, implementation or review step."""
        item = self.get_object()
        data = parse_input(CompleteInput, request)
        if item.kind not in COMPLETED_KINDS:
            raise BadRequest(
                f"Steps of kind '{item.kind}' are approved or returned, not completed."
            )
        return self._task_response(
            services.task_complete(
                item=item, user=request.user, note=data["note"], percent=data["percent"]
            )
        )

    @extend_schema(
        operation_id="task_progress",
        request=ProgressInput,
        responses={200: ProgressUpdateSerializer, **_ACTION_ERRORS},
    )
    def progress(self, request, pk):
        """Report progress on an open implementation step."""
        item = self.get_object()
        data = parse_input(ProgressInput, request)
        update = services.progress_report(
            item=item, user=request.user, percent=data["percent"], note=data["note"]
        )
        return Response(ProgressUpdateSerializer(update).data)

    @extend_schema(
        operation_id="task_override_guard",
        request=OverrideInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def override_guard(self, request, pk):
        """Let an implementation step close with child cases open, with a reason (coordinators)."""
        item = self.get_object()
        data = parse_input(OverrideInput, request)
        return self._task_response(
            services.task_complete_override(item=item, by=request.user, reason=data["reason"])
        )

    @extend_schema(
        operation_id="task_claim",
        request=None,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def claim(self, request, pk):
        """Take a task from a queue you serve."""
        item = self.get_object()
        return self._task_response(services.task_claim(item=item, user=request.user))

    @extend_schema(
        operation_id="task_reassign",
        request=ReassignInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def reassign(self, request, pk):
        """Hand an open task to someone else, or back to its queue (coordinators)."""
        item = self.get_object()
        access.check_can_coordinate(request.user)
        data = parse_input(ReassignInput, request)
        to_user = profiles.user_by_username(data["to"]) if data["to"] else None
        return self._task_response(
            services.task_reassign(
                item=item, by=request.user, to_user=to_user, reason=data["reason"]
            )
        )

    @extend_schema(
        operation_id="task_assignees",
        parameters=[
            OpenApiParameter(
                "q", str, description="Search username, full name, department or post"
            ),
        ],
        responses={200: AssigneeSerializer(many=True), **error_responses(400, 403, 404)},
    )
    def assignees(self, request, pk):
        """Who the task may be reassigned to: those who could act on its step, in its case's
        federation (coordinators of that federation or above)."""
        item = self.get_object()
        access.check_can_coordinate(request.user, item.case.organisation)
        query = request.query_params.get("q", "")
        if len(query) > 100 or "\x00" in query:
            raise BadRequest("q: at most 100 characters of text.")
        page = self.paginate_queryset(reassignment.reassign_candidate_list(item, q=query))
        serializer = AssigneeSerializer(page, many=True, context={"item": item})
        return self.get_paginated_response(serializer.data)

    @extend_schema(
        operation_id="task_extend",
        request=ExtendInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def extend(self, request, pk):
        """Move the due date to a later day, with a reason (coordinators)."""
        item = self.get_object()
        data = parse_input(ExtendInput, request)
        return self._task_response(
            deadlines.deadline_extend(
                item=item, by=request.user, new_date=data["new_date"], reason=data["reason"]
            )
        )

    @extend_schema(
        operation_id="task_pause",
        request=PauseInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def pause(self, request, pk):
        """Stop the task's clock, with a reason (coordinators, the lead department's head)."""
        item = self.get_object()
        data = parse_input(PauseInput, request)
        return self._task_response(
            deadlines.task_pause(item=item, by=request.user, reason=data["reason"])
        )

    @extend_schema(
        operation_id="task_resume",
        request=PauseInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def resume(self, request, pk):
        """Restart the clock; the due date moves by the working days spent paused."""
        item = self.get_object()
        data = parse_input(PauseInput, request)
        return self._task_response(
            deadlines.task_resume(item=item, by=request.user, reason=data["reason"])
        )
