"""The JSON API: thin views that read through selectors and write through services.

Visibility comes first: anything on a case the caller cannot see is a 404. After that the
service decides, so a visible task the caller may not act on is the service's 403, with
its reason. Every error answers `{"detail": "<message>"}` (see `exception_handler`).
"""

from datetime import UTC, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, permissions, serializers, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from workflows import access, bounds, cascade, deadlines, forms, selectors, services
from workflows.api_pagination import StrictLimitOffsetPagination
from workflows.api_permissions import AuditorsAndCoordinators, AuditorsReadOnly
from workflows.db_router import replica_view
from workflows.models import (
    Aspect,
    AuditEvent,
    Case,
    LeaderRole,
    Measure,
    Notification,
    NotificationStatus,
    Organisation,
    OrganisationLevel,
    ProgressUpdate,
    Report,
    ReportKind,
    StepKind,
    WorkItem,
)

# --------------------------------------------------------------------------- errors


class CodeField(serializers.SlugRelatedField):
    """A code looked up in the catalogue; a NUL character is refused before the query, since
    PostgreSQL cannot hold one in a string (found by fuzzing: it was a 500)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


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
    elif isinstance(exc, DjangoValidationError) and hasattr(exc, "error_dict"):
        # A service naming the field (e.g. bounds.check_date): kept per field, as input errors.
        exc = exceptions.ValidationError(exc.message_dict)
    elif isinstance(exc, DjangoValidationError):
        exc = BadRequest(" ".join(str(message) for message in exc.messages))
    elif isinstance(exc, Http404):
        # The same words whether the row is missing or on a case the caller cannot see.
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _first_message(exc.detail), "errors": exc.detail}
    return response


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Per-field messages (input errors)")


_ERROR_DESCRIPTIONS = {
    400: "Invalid input: a missing reason, a bad percent or page, or the wrong action for the step",
    401: "Not logged in",
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
    organisation = serializers.CharField(
        source="case.organisation.code", allow_null=True, default=None
    )
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
    parent_case = serializers.IntegerField(source="parent_case_id", allow_null=True)
    level = serializers.CharField(source="organisation.level.key")

    class Meta:
        model = Case
        fields = [
            "id",
            "measure",
            "organisation",
            "level",
            "parent_case",
            "deadline_cap",
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
    candidates = serializers.SerializerMethodField(
        help_text="Who may take it while open: the assignee, else the queue's staff, head or "
        "leader; [] once it is closed"
    )
    completed_by = serializers.CharField(
        source="completed_by.username", allow_null=True, default=None
    )

    def get_candidates(self, item) -> list[str]:
        return task_candidates(item)

    class Meta:
        model = WorkItem
        fields = [
            "id",
            "step",
            "kind",
            "status",
            "outcome",
            "assignee",
            "candidates",
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


class OverdueChildSerializer(serializers.Serializer):
    case = serializers.IntegerField(source="case_id")
    organisation = serializers.CharField(source="organisation.code")
    days_overdue = serializers.IntegerField()


class ChildCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    organisation = serializers.CharField(source="organisation.code")
    level = serializers.CharField(source="organisation.level.key")
    status = serializers.SerializerMethodField(help_text="open or done")
    current_step = serializers.CharField(source="current_step.key", allow_null=True, default=None)
    percent_complete = serializers.IntegerField()
    rag = serializers.CharField()
    finished = serializers.DateTimeField(allow_null=True)
    days_overdue = serializers.IntegerField(help_text="Of its open task; 0 if not overdue")

    def get_status(self, case) -> str:
        return _case_status(case)


class RollupSerializer(serializers.Serializer):
    children = serializers.IntegerField(help_text="Cases cascaded from this one")
    open = serializers.IntegerField()
    done = serializers.IntegerField()
    by_rag = serializers.DictField(child=serializers.IntegerField())
    percent_complete = serializers.IntegerField(
        allow_null=True, help_text="Mean of the children's percent, each child weighing the same"
    )
    most_overdue = OverdueChildSerializer(allow_null=True)
    cases = ChildCaseSerializer(source="rows", many=True)


class CaseDetailSerializer(CaseSerializer):
    tasks = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    rollup = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "tasks", "progress", "rollup"]

    @extend_schema_field(RollupSerializer)
    def get_rollup(self, case):
        return RollupSerializer(selectors.case_rollup(case)).data

    @extend_schema_field(CaseTaskSerializer(many=True))
    def get_tasks(self, case):
        tasks = _with_candidates(selectors.work_item_list_for_case(case))
        return CaseTaskSerializer(tasks, many=True).data

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
    return [user.username for user in access.task_candidate_users(item)]


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
            "original_due_at",
            "paused_at",
            "pause_reason",
        ]

    def get_candidates(self, item) -> list[str]:
        return task_candidates(item)


class CascadeInput(serializers.Serializer):
    organisations = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Codes of organisations directly below the case's",
    )
    level = serializers.CharField(
        required=False, help_text="Or a level key: every organisation directly below at it"
    )


class CascadeResultSerializer(serializers.Serializer):
    created = CaseSerializer(many=True)
    existing = CaseSerializer(many=True)


class OverrideInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class LaunchInput(serializers.Serializer):
    measure = CodeField(slug_field="code", queryset=Measure.objects.all())


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


class ExtendInput(serializers.Serializer):
    new_date = serializers.DateField(
        help_text="The new due day (due at 18:00 Asia/Shanghai), within the date horizon",
        validators=[bounds.validate_date_in_horizon],
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PauseInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class NotificationSerializer(serializers.ModelSerializer):
    recipient = serializers.CharField(source="recipient.username")
    task = serializers.IntegerField(source="work_item_id", allow_null=True)
    measure = serializers.CharField(
        source="work_item.case.measure.code", allow_null=True, default=None
    )

    class Meta:
        model = Notification
        fields = [
            "id",
            "recipient",
            "kind",
            "channel",
            "task",
            "measure",
            "rung",
            "status",
            "subject",
            "attempts",
            "last_error",
            "due_at",
            "created_at",
            "next_attempt_at",
            "sent_at",
        ]


class AssigneeSerializer(serializers.Serializer):
    """Someone a task may be handed to (access.reassign_candidate_list)."""

    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")
    role = serializers.SerializerMethodField(
        help_text="head or staff (of the task's department), or leader (of its leader post)"
    )

    def get_role(self, user) -> str:
        item = self.context["item"]
        if item.leader_role_id is not None:
            return "leader"
        return "head" if item.department.head_id == user.pk else "staff"


class ReassignInput(serializers.Serializer):
    to = serializers.CharField(allow_null=True, help_text="Username, or null to put back in queue")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


def _input(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --------------------------------------------------------------------------- views

_SCOPE_PARAMETERS = [
    OpenApiParameter("organisation", str, description="Only this organisation (its code)"),
    OpenApiParameter("level", str, description="Only organisations at this level (its key)"),
]


def _scope_filters(request) -> tuple[Organisation | None, str | None]:
    """?organisation=<code> and ?level=<key>; an unknown code or key is a 400."""
    organisation = level = None
    code = request.query_params.get("organisation")
    if code:
        organisation = Organisation.objects.filter(code=code).first()
        if organisation is None:
            raise BadRequest(f"organisation: there is no organisation '{code}'")
    level = request.query_params.get("level") or None
    if level and not OrganisationLevel.objects.filter(key=level).exists():
        raise BadRequest(f"level: there is no organisation level '{level}'")
    return organisation, level


def _page_number(request) -> int:
    """?page=<n>, a positive whole number (1 when absent); anything else is a 400."""
    raw = request.query_params.get("page")
    if raw is None:
        return 1
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise BadRequest(f"page: '{raw}' is not a page number (1, 2, …)")
    return int(raw)


def _filter_scope(queryset, request, prefix: str = ""):
    organisation, level = _scope_filters(request)
    if organisation is not None:
        queryset = queryset.filter(**{f"{prefix}organisation": organisation})
    if level is not None:
        queryset = queryset.filter(**{f"{prefix}organisation__level__key": level})
    return queryset


@extend_schema(tags=["measures"])
class MeasureListView(GenericAPIView):
    """The programme: every measure with the latest case the caller can see."""

    serializer_class = MeasureRowSerializer
    pagination_class = None

    @extend_schema(
        operation_id="measure_list",
        parameters=[
            *_SCOPE_PARAMETERS,
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                description="With `level`: which page of cases (50 to a page, in measure and "
                "organisation order); the X-Total-Count and X-Page-Count headers give the size",
            ),
        ],
        responses={200: MeasureRowSerializer(many=True), **_errors(400)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """Every measure with the latest case the caller can see (status "none" if none).

        By default the caller's own organisation; `?organisation=` another one; `?level=`
        one row per visible case at that level (within `?organisation=`'s subtree if given),
        50 to a page (`?page=`).
        """
        organisation, level = _scope_filters(request)
        programme = selectors.programme_rows(
            request.user,
            organisation=organisation,
            level=level,
            page=_page_number(request),
        )
        rows = [row for _aspect, rows in programme for row in rows]
        leader_ids = {row.measure.supervising_leader_id for row in rows}
        leader_keys = dict(LeaderRole.objects.filter(pk__in=leader_ids).values_list("pk", "key"))
        serializer = MeasureRowSerializer(rows, many=True, context={"leader_keys": leader_keys})
        headers = {}
        if programme.page is not None:
            headers = {
                "X-Total-Count": str(programme.page.paginator.count),
                "X-Page-Count": str(programme.page.paginator.num_pages),
            }
        return Response(serializer.data, headers=headers)


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
                "organisation__level",
                "lead_department",
                "supervising_leader",
                "current_step",
                "launched_by",
            )
            .order_by("-created", "-pk")
        )

    @extend_schema(
        operation_id="case_list",
        parameters=_SCOPE_PARAMETERS,
        responses={200: CaseSerializer(many=True), **_errors(400)},
    )
    def list(self, request):
        """Cases the caller can see, newest first."""
        page = self.paginate_queryset(_filter_scope(self.get_queryset(), request))
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
        """Launch a measure's case in the coordinator's own federation (coordinators); an
        already open case is returned."""
        access.check_can_coordinate(request.user)
        data = _input(LaunchInput, request)
        case, created = services.case_launch(
            measure=data["measure"],
            by=request.user,
            organisation=access.organisation_default(request.user),
        )
        return Response(
            CaseDetailSerializer(self.get_queryset().get(pk=case.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="case_cascade",
        request=CascadeInput,
        responses={
            201: CascadeResultSerializer,
            200: OpenApiResponse(CascadeResultSerializer, description="Every child case existed"),
            **_errors(400, 403, 404),
        },
    )
    def cascade(self, request, pk):
        """Cascade to organisations directly below, by code or a whole level (coordinators)."""
        case = self.get_object()
        data = _input(CascadeInput, request)
        result = cascade.case_cascade(
            case=case,
            by=request.user,
            organisations=data.get("organisations"),
            level=data.get("level"),
        )
        ids = [c.pk for c in [*result.created, *result.existing]]
        fresh = self.get_queryset().in_bulk(ids)
        body = {
            "created": CaseSerializer([fresh[c.pk] for c in result.created], many=True).data,
            "existing": CaseSerializer(
                [fresh[c.pk] for c in result.existing if c.pk in fresh], many=True
            ).data,
        }
        return Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


def _with_candidates(items: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    """Tasks as selectors.work_item_rows gives them, plus what the API shows beyond a page's row
    (organisation, leader role, candidates), in a fixed number of queries for any number."""
    active_staff = get_user_model().objects.filter(is_active=True).order_by("username")
    return items.select_related("department__head").prefetch_related(
        Prefetch("case__organisation", queryset=Organisation.objects.order_by()),
        Prefetch("leader_role", queryset=LeaderRole.objects.select_related("holder").order_by()),
        Prefetch("department__staff", queryset=active_staff),
    )


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
        return _with_candidates(selectors.work_item_rows(access.work_item_list_visible(user)))

    def _task_response(self, item: WorkItem) -> Response:
        return Response(TaskSerializer(self.get_queryset().get(pk=item.pk)).data)

    @extend_schema(
        operation_id="task_list",
        parameters=_SCOPE_PARAMETERS,
        responses={200: TaskSerializer(many=True), **_errors(400)},
    )
    def list(self, request):
        """The caller's open tasks: assigned to them, or waiting in a queue they serve."""
        page = self.paginate_queryset(_filter_scope(self.get_queryset(), request, "case__"))
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
        operation_id="task_override_guard",
        request=OverrideInput,
        responses={200: TaskSerializer, **_ACTION_ERRORS},
    )
    def override_guard(self, request, pk):
        """Let an implementation step close with child cases open, with a reason (coordinators)."""
        item = self.get_object()
        data = _input(OverrideInput, request)
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
        data = _input(ReassignInput, request)
        to_user = services.user_by_username(data["to"]) if data["to"] else None
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
        responses={200: AssigneeSerializer(many=True), **_errors(400, 403, 404)},
    )
    def assignees(self, request, pk):
        """Who the task may be reassigned to: those who could act on its step, in its case's
        federation (coordinators of that federation or above)."""
        item = self.get_object()
        access.check_can_coordinate(request.user, item.case.organisation)
        query = request.query_params.get("q", "")
        if len(query) > 100 or "\x00" in query:
            raise BadRequest("q: at most 100 characters of text.")
        page = self.paginate_queryset(access.reassign_candidate_list(item, q=query))
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
        data = _input(ExtendInput, request)
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
        data = _input(PauseInput, request)
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
        data = _input(PauseInput, request)
        return self._task_response(
            deadlines.task_resume(item=item, by=request.user, reason=data["reason"])
        )


@extend_schema(tags=["notifications"])
class NotificationListView(GenericAPIView):
    """The notification log (coordinators and auditors), newest first, paginated."""

    serializer_class = NotificationSerializer

    @extend_schema(
        operation_id="notification_list",
        parameters=[
            OpenApiParameter(
                "status", str, enum=NotificationStatus.values, description="Only this status"
            ),
            OpenApiParameter("task", int, description="Only this task's messages"),
        ],
        responses={200: NotificationSerializer(many=True), **_errors(400, 403)},
    )
    def get(self, request):
        """Each message: recipient, kind, task, rung, status, attempts and times."""
        if not access.reads_logs(request.user):
            raise exceptions.PermissionDenied("Only coordinators and auditors see the log.")
        _reject_empty_filters(request)
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


# --------------------------------------------------------------------------- audit trail


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor_name", help_text="Username; empty for the system (commands, timers)"
    )
    case = serializers.IntegerField(source="case_id", allow_null=True)
    measure = serializers.CharField(source="case.measure.code", allow_null=True, default=None)
    task = serializers.IntegerField(source="work_item_id", allow_null=True)
    step = serializers.CharField(source="work_item.step.key", allow_null=True, default=None)
    data = serializers.JSONField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "verb",
            "actor",
            "case",
            "measure",
            "task",
            "step",
            "reason",
            "data",
            "prev_hash",
            "hash",
        ]


def _reject_empty_filters(request) -> None:
    """A filter given with no value is a client error here (forms on pages send blanks; API
    clients should leave the parameter out), so `?status=` is a 400, not "any status"."""
    for name, values in request.query_params.lists():
        if any(not value.strip() for value in values):
            raise BadRequest(f"{name}: a value is required when the parameter is given.")


def _moment(request, name: str, *, end: bool = False) -> datetime | None:
    """An ISO 8601 datetime or date query parameter; a bare date `until` covers that whole day.
    Its date must lie within the date horizon (bounds.date_horizon)."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        # parse_date first: parse_datetime would read a bare date as midnight.
        day = parse_date(raw)
        moment = None if day else parse_datetime(raw)
    except ValueError:
        moment = day = None
    if day is None and moment is None:
        raise BadRequest(f"{name}: expected an ISO 8601 date or datetime, got {raw!r}.")
    try:
        bounds.validate_date_in_horizon(day or moment)
    except DjangoValidationError as exc:
        raise BadRequest(f"{name}: {' '.join(exc.messages)}") from None
    if day is not None:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    try:
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (found by
        # fuzzing: `+23:10` was a 500 that also aborted the request's transaction).
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadRequest(f"{name}: {raw!r} is out of range.") from None


@extend_schema(tags=["audit"])
class AuditEventListView(GenericAPIView):
    """The audit trail, newest first (auditors and coordinators)."""

    serializer_class = AuditEventSerializer
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
        responses={200: AuditEventSerializer(many=True), **_errors(400, 401, 403)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """Audit events filtered by verb, case, actor and time, newest first."""
        _reject_empty_filters(request)
        case = request.query_params.get("case", "").strip()
        if case and (not case.isdigit() or int(case) >= 2**63):
            raise BadRequest(f"case: expected a case id, got {case!r}.")
        events = selectors.audit_event_list(
            request.user,
            verb=request.query_params.get("verb", "").strip(),
            actor=request.query_params.get("actor", "").strip(),
            case_id=int(case) if case else None,
            since=_moment(request, "since"),
            until=_moment(request, "until", end=True),
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)


# --------------------------------------------------------------------------- reports


class ReportSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id", allow_null=True, read_only=True)
    measure = serializers.CharField(source="case.measure.code", allow_null=True, default=None)
    aspect = serializers.CharField(source="aspect.code", allow_null=True, default=None)
    requested_by = serializers.CharField(
        source="requested_by.username", allow_null=True, default=None
    )
    # A plain string: an enum here would collide with the task status enum's component name.
    status = serializers.CharField(help_text="queued, rendering, ready or failed")
    download_url = serializers.SerializerMethodField(
        help_text="The access-checked, audited download; null until the report is ready"
    )

    class Meta:
        model = Report
        fields = [
            "id",
            "kind",
            "scope",
            "case",
            "measure",
            "aspect",
            "version",
            "status",
            "progress",
            "sha256",
            "size",
            "requested_by",
            "created_at",
            "as_of",
            "finished_at",
            "download_url",
        ]

    def get_download_url(self, report) -> str | None:
        if not report.is_ready:
            return None
        url = reverse("workflows:report_download", args=[report.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


class ReportRequestInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    aspect = CodeField(
        slug_field="code",
        queryset=Aspect.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="Programme reports: one aspect's code, or null for the whole programme",
    )
    case = serializers.IntegerField(
        allow_null=True,
        required=False,
        default=None,
        help_text="Completion reports: the completed case to make a new version for",
    )


_REPORT_FILTERS = [
    OpenApiParameter("kind", str, enum=ReportKind.values),
    OpenApiParameter("measure", str, description="Measure code, e.g. 2.2"),
    OpenApiParameter("aspect", str, description="Aspect code, e.g. 2"),
    OpenApiParameter("status", str, enum=["queued", "rendering", "ready", "failed"]),
]


@extend_schema(tags=["reports"])
class ReportViewSet(viewsets.GenericViewSet):
    """PDF reports the caller may see; programme reports are requested here and render later."""

    serializer_class = ReportSerializer
    # Requesting a programme report reads the programme; it changes nothing on a case.
    auditors_may_post = True

    def get_queryset(self) -> QuerySet[Report]:
        return selectors.report_list(self.request.user)

    @extend_schema(
        operation_id="report_list",
        parameters=_REPORT_FILTERS,
        responses={200: ReportSerializer(many=True), **_errors(400)},
    )
    def list(self, request):
        """Reports the caller may see, newest first; filter by kind, measure, aspect, status."""
        _reject_empty_filters(request)
        filters = forms.ReportFilterForm(request.query_params)
        if not filters.is_valid():
            raise exceptions.ValidationError(filters.errors.get_json_data())
        criteria = {key: value for key, value in filters.cleaned_data.items() if value}
        page = self.paginate_queryset(selectors.report_list(request.user, **criteria))
        return self.get_paginated_response(
            ReportSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(operation_id="report_get", responses={200: ReportSerializer, **_errors(404)})
    def retrieve(self, request, pk):
        """One report (poll it until its status is ready or failed)."""
        return Response(ReportSerializer(self.get_object(), context={"request": request}).data)

    @extend_schema(
        operation_id="report_request",
        request=ReportRequestInput,
        responses={202: ReportSerializer, **_errors(400, 403, 404)},
    )
    def create(self, request):
        """Request a programme report (coordinators, auditors, leaders) or a new completion
        report version (coordinators); answers 202 with the queued row."""
        data = _input(ReportRequestInput, request)
        if data["kind"] == ReportKind.PROGRAMME:
            report = services.report_request_programme(by=request.user, aspect=data["aspect"])
        else:
            if data["case"] is None:
                raise BadRequest("case: a completion report names its case.")
            case = access.case_list_visible(request.user).filter(pk=data["case"]).first()
            if case is None:
                raise Http404
            report = services.report_request_completion(case=case, by=request.user)
        report = self.get_queryset().get(pk=report.pk)
        return Response(
            ReportSerializer(report, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )
