"""The JSON API: thin views that read through selectors and write through services.

Visibility comes first: anything on a case the caller cannot see is a 404. After that the
service decides, so a visible task the caller may not act on is the service's 403, with
its reason. Every error answers `{"detail": "<message>"}` (see `exception_handler`).
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from . import access, selectors, services
from .models import Case, LeaderRole, Measure, ProgressUpdate, StepKind, WorkItem

# --------------------------------------------------------------------------- errors


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The task changed before your action; nothing was changed."
    default_code = "conflict"


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request is not valid."
    default_code = "invalid"


def _first_message(errors) -> str:
    """The first message in DRF's nested field errors, prefixed with its field name."""
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def exception_handler(exc, context):
    """DRF's handler plus the services' exceptions; the body is always `{"detail": message}`.

    TaskConflict -> 409, ReasonRequired/ValidationError -> 400, PermissionDenied -> 403 with
    the service's reason (DRF's own handler would swap it for a generic one), Http404 -> 404
    naming no model. Input errors from serializers also keep their per-field form under `errors`.
    """
    if isinstance(exc, services.TaskConflict):
        exc = Conflict(str(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        exc = BadRequest(" ".join(str(message) for message in exc.messages))
    elif isinstance(exc, Http404):
        # The same words whether the row is missing or on a case the caller cannot see.
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _first_message(exc.detail), "errors": exc.detail}
    return response


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset, but a malformed value is a 400 instead of silently the default.

    Found by fuzzing the schema: `?offset=abc` answered 200 with the first page. `limit` is
    capped at `max_limit` (larger values are clamped, as DRF does, so no page is unbounded).
    """

    max_limit = 500

    def _strict(self, request, name: str, minimum: int) -> None:
        raw = request.query_params.get(name)
        if raw is None:
            return
        try:
            valid = int(raw) >= minimum
        except ValueError:
            valid = False
        if not valid:
            raise BadRequest(f"{name} must be a whole number of at least {minimum}.")

    def paginate_queryset(self, queryset, request, view=None):
        self._strict(request, self.limit_query_param, 1)
        self._strict(request, self.offset_query_param, 0)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        minimums = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            parameter["schema"]["minimum"] = minimums[parameter["name"]]
        return parameters


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Per-field messages (input errors)")


_ERROR_DESCRIPTIONS = {
    400: "Invalid input: a missing reason, a bad percent or page, or the wrong action for the step",
    403: "Not allowed: not your task or queue, auditor, separation of duties, not a coordinator",
    404: "Not found, or on a case you cannot see",
    409: "The task is already done or taken by someone else; nothing was changed",
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in codes
    }


# --------------------------------------------------------------------------- serializers


def _case_status(case: Case | None) -> str:
    if case is None:
        return "none"
    return "open" if case.is_open else "done"


class MeasureRowSerializer(serializers.Serializer):
    """One programme row: the measure, then the latest case the caller can see (or nulls)."""

    code = serializers.CharField(source="measure.code")
    aspect = serializers.CharField(source="measure.aspect.code")
    title = serializers.CharField(source="measure.title", help_text="In the request's language")
    title_en = serializers.CharField(source="measure.title_en")
    title_zh = serializers.CharField(source="measure.title_zh")
    provenance = serializers.CharField(source="measure.provenance")
    lead_department = serializers.CharField(source="measure.lead_department.key")
    supervising_leader = serializers.SerializerMethodField()
    case = serializers.IntegerField(source="case.pk", allow_null=True, default=None)
    status = serializers.SerializerMethodField(help_text="open, done, or none (no visible case)")
    current_step = serializers.CharField(
        source="case.current_step.key", allow_null=True, default=None
    )
    assignee = serializers.CharField(
        source="open_item.assignee.username", allow_null=True, default=None
    )
    percent_complete = serializers.IntegerField(
        source="case.percent_complete", allow_null=True, default=None
    )
    rag = serializers.CharField(source="case.rag", allow_null=True, default=None)
    due_at = serializers.DateTimeField(source="open_item.due_at", allow_null=True, default=None)

    def get_supervising_leader(self, row) -> str:
        # One lookup for all rows, made by the view: programme_rows does not join the leader.
        return self.context["leader_keys"][row.measure.supervising_leader_id]

    def get_status(self, row) -> str:
        return _case_status(row.case)


class CaseSerializer(serializers.ModelSerializer):
    measure = serializers.CharField(source="measure.code")
    organisation = serializers.CharField(source="organisation.code")
    lead_department = serializers.CharField(source="lead_department.key")
    supervising_leader = serializers.CharField(source="supervising_leader.key")
    status = serializers.SerializerMethodField(help_text="open or done")
    current_step = serializers.CharField(source="current_step.key", allow_null=True, default=None)
    launched_by = serializers.CharField(
        source="launched_by.username", allow_null=True, default=None
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "measure",
            "organisation",
            "lead_department",
            "supervising_leader",
            "status",
            "current_step",
            "percent_complete",
            "rag",
            "created",
            "finished",
            "launched_by",
        ]

    def get_status(self, case) -> str:
        return _case_status(case)


class CaseTaskSerializer(serializers.ModelSerializer):
    """A work item as its case lists it: the record of who did what, in order."""

    id = serializers.IntegerField(source="pk", read_only=True)
    step = serializers.CharField(source="step.key")
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    completed_by = serializers.CharField(
        source="completed_by.username", allow_null=True, default=None
    )

    class Meta:
        model = WorkItem
        fields = [
            "id",
            "step",
            "kind",
            "status",
            "outcome",
            "assignee",
            "completed_by",
            "decision_note",
            "created_at",
            "finished_at",
            "due_at",
        ]


class ProgressUpdateSerializer(serializers.ModelSerializer):
    task = serializers.IntegerField(source="work_item_id")
    step = serializers.CharField(source="work_item.step.key")
    author = serializers.CharField(source="author.username")

    class Meta:
        model = ProgressUpdate
        fields = ["id", "case", "task", "step", "percent", "note", "author", "created_at"]


class CaseDetailSerializer(CaseSerializer):
    tasks = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "tasks", "progress"]

    @extend_schema_field(CaseTaskSerializer(many=True))
    def get_tasks(self, case):
        return CaseTaskSerializer(selectors.work_item_list_for_case(case), many=True).data

    @extend_schema_field(ProgressUpdateSerializer(many=True))
    def get_progress(self, case):
        updates = case.progress_updates.select_related("author", "work_item__step")
        return ProgressUpdateSerializer(updates, many=True).data


def task_candidates(item: WorkItem) -> list[str]:
    """Usernames who may take an open task (before separation of duties); [] once it is closed.

    Reads only what `_with_candidates` loaded, so a list of tasks costs no query per row.
    """
    if not item.is_open:
        return []
    if item.assignee_id is not None:
        return [item.assignee.username]
    if item.leader_role_id is not None:
        holder = item.leader_role.holder
        return [holder.username] if holder is not None else []
    if item.department_id is None:
        return []
    if item.for_head:
        head = item.department.head
        return [head.username] if head is not None else []
    return [user.username for user in item.department.staff.all()]


class TaskSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(
        source="pk", read_only=True, help_text="Also the viewflow task id"
    )
    case = serializers.IntegerField(source="case_id")
    measure = serializers.CharField(source="case.measure.code")
    step = serializers.CharField(source="step.key")
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    candidates = serializers.SerializerMethodField(
        help_text="Who may take it: the assignee, else the queue's staff, head or leader"
    )

    class Meta:
        model = WorkItem
        fields = [
            "id",
            "case",
            "measure",
            "step",
            "kind",
            "status",
            "outcome",
            "assignee",
            "candidates",
            "due_at",
        ]

    def get_candidates(self, item) -> list[str]:
        return task_candidates(item)


class LaunchInput(serializers.Serializer):
    measure = serializers.SlugRelatedField(slug_field="code", queryset=Measure.objects.all())


class ApproveInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ReturnInput(serializers.Serializer):
    # Optional here so that a missing reason gets the service's own message (ReasonRequired).
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CompleteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")
    percent = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=100
    )


class ProgressInput(serializers.Serializer):
    percent = serializers.IntegerField(help_text="0 to 100", min_value=0, max_value=100)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ReassignInput(serializers.Serializer):
    to = serializers.CharField(allow_null=True, help_text="Username, or null to put back in queue")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


def _input(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --------------------------------------------------------------------------- views


@extend_schema(tags=["measures"])
class MeasureListView(GenericAPIView):
    """The programme: every measure with the latest case the caller can see."""

    serializer_class = MeasureRowSerializer
    pagination_class = None

    @extend_schema(operation_id="measure_list", responses={200: MeasureRowSerializer(many=True)})
    def get(self, request):
        """Every measure with the latest case the caller can see (status "none" if none)."""
        rows = [row for _aspect, rows in selectors.programme_rows(request.user) for row in rows]
        leader_ids = {row.measure.supervising_leader_id for row in rows}
        leader_keys = dict(LeaderRole.objects.filter(pk__in=leader_ids).values_list("pk", "key"))
        serializer = MeasureRowSerializer(rows, many=True, context={"leader_keys": leader_keys})
        return Response(serializer.data)


@extend_schema(tags=["cases"])
class CaseViewSet(viewsets.GenericViewSet):
    """Cases the caller can see; coordinators launch them."""

    serializer_class = CaseSerializer
    pagination_class = StrictLimitOffsetPagination

    def get_queryset(self) -> QuerySet[Case]:
        return (
            access.case_list_visible(self.request.user)
            .select_related(
                "measure",
                "organisation",
                "lead_department",
                "supervising_leader",
                "current_step",
                "launched_by",
            )
            .order_by("-created", "-pk")
        )

    @extend_schema(
        operation_id="case_list", responses={200: CaseSerializer(many=True), **_errors(400)}
    )
    def list(self, request):
        """Cases the caller can see, newest first."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(CaseSerializer(page, many=True).data)

    @extend_schema(operation_id="case_get", responses={200: CaseDetailSerializer, **_errors(404)})
    def retrieve(self, request, pk):
        """One case with all its tasks, in order, and its progress updates."""
        return Response(CaseDetailSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="case_launch",
        request=LaunchInput,
        responses={
            201: CaseDetailSerializer,
            200: OpenApiResponse(CaseDetailSerializer, description="The case already open"),
            **_errors(400, 403),
        },
    )
    def create(self, request):
        """Launch a measure's case (coordinators); an already open case is returned."""
        access.check_can_coordinate(request.user)
        data = _input(LaunchInput, request)
        case, created = services.case_launch(measure=data["measure"], by=request.user)
        return Response(
            CaseDetailSerializer(self.get_queryset().get(pk=case.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _with_candidates(items: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    """Load what `task_candidates` reads, in a fixed number of queries for any number of tasks."""
    active_staff = get_user_model().objects.filter(is_active=True).order_by("username")
    return items.select_related(
        *selectors.WORK_ITEM_RELATED, "department__head", "leader_role__holder"
    ).prefetch_related(Prefetch("department__staff", queryset=active_staff))


# Which action completes which step kind: sign-off is approved, approvals are approved or
# returned; a review may be approved or completed.
_COMPLETABLE_KINDS = (StepKind.SUBMIT, StepKind.IMPLEMENT, StepKind.REVIEW)
_ACTION_ERRORS = _errors(400, 403, 404, 409)


@extend_schema(tags=["tasks"])
class TaskViewSet(viewsets.GenericViewSet):
    """Open tasks (inbox and queues) and the actions on them; each action calls one service."""

    serializer_class = TaskSerializer
    pagination_class = StrictLimitOffsetPagination

    def get_queryset(self) -> QuerySet[WorkItem]:
        user = self.request.user
        if self.action == "list":
            return _with_candidates(selectors.work_item_list_open_for(user))
        # Any task, open or done, on a case the caller can see; anything else is a 404.
        visible = WorkItem.objects.filter(case__in=access.case_list_visible(user))
        return _with_candidates(visible)

    def _task_response(self, item: WorkItem) -> Response:
        return Response(TaskSerializer(self.get_queryset().get(pk=item.pk)).data)

    @extend_schema(
        operation_id="task_list", responses={200: TaskSerializer(many=True), **_errors(400)}
    )
    def list(self, request):
        """The caller's open tasks: assigned to them, or waiting in a queue they serve."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(operation_id="task_get", responses={200: TaskSerializer, **_errors(404)})
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
        data = _input(ApproveInput, request)
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
        data = _input(ReturnInput, request)
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
        data = _input(CompleteInput, request)
        if item.kind not in _COMPLETABLE_KINDS:
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
        data = _input(ProgressInput, request)
        update = services.progress_report(
            item=item, user=request.user, percent=data["percent"], note=data["note"]
        )
        return Response(ProgressUpdateSerializer(update).data)

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
        data = _input(ReassignInput, request)
        to_user = services.user_by_username(data["to"]) if data["to"] else None
        return self._task_response(
            services.task_reassign(
                item=item, by=request.user, to_user=to_user, reason=data["reason"]
            )
        )
