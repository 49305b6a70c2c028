"""The API's output serializers: measures, cases, tasks, notifications and audit events,
each field documented for the OpenAPI schema.
"""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers

from workflows.audit.trail import AUDIT_EVENT_FIELDS
from workflows.cases import selectors
from workflows.common import reach as access
from workflows.models import (
    AuditEvent,
    Case,
    LeaderRole,
    Notification,
    Organisation,
    ProgressUpdate,
    WorkItem,
)


class CodeField(serializers.SlugRelatedField):
    """A code looked up in the catalogue; a NUL character is refused before the query, since
    PostgreSQL cannot hold one in a string (found by fuzzing: it was a 500)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


def _case_status(case: Case | None) -> str:
    if case is None:
        return "none"
    return "open" if case.is_open else "done"


# One field instance formats every datetime as the serializers' fields do (time zone, ISO 8601).
_DATETIME = serializers.DateTimeField()


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


def measure_rows_data(rows, leader_keys: dict[int, str]) -> list[dict]:
    """MeasureRowSerializer's output for selectors.programme_rows' rows, built without a DRF
    field per value: the same keys in the same order (tests/test_api.py compares the two).
    `leader_keys`: each supervising leader role's key by id."""
    when = _DATETIME.to_representation
    data = []
    for row in rows:
        measure, case, item = row.measure, row.case, row.open_item
        assignee = item.assignee if item is not None else None
        step = case.current_step if case is not None else None
        data.append(
            {
                "code": str(measure.code),
                "aspect": str(measure.aspect.code),
                "title": str(measure.title),
                "title_en": str(measure.title_en),
                "title_zh": str(measure.title_zh),
                "provenance": str(measure.provenance),
                "lead_department": str(measure.lead_department.key),
                "supervising_leader": leader_keys[measure.supervising_leader_id],
                "case": case.pk if case is not None else None,
                "organisation": case.organisation.code if case is not None else None,
                "status": _case_status(case),
                "current_step": step.key if step is not None else None,
                "assignee": assignee.username if assignee is not None else None,
                "percent_complete": case.percent_complete if case is not None else None,
                "rag": case.rag if case is not None else None,
                "due_at": when(item.due_at) if item is not None and item.due_at else None,
            }
        )
    return data


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


def case_list_data(rows: list[dict]) -> list[dict]:
    """CaseSerializer's output for selectors.case_list_rows' plain rows: the same keys in the
    same order, built without a DRF field per value (tests/test_api.py compares the two)."""
    when = _DATETIME.to_representation
    return [
        {
            "id": row["id"],
            "measure": row["measure"],
            "organisation": row["organisation"],
            "level": row["level"],
            "parent_case": row["parent_case"],
            "deadline_cap": when(row["deadline_cap"]),
            "lead_department": row["lead_department"],
            "supervising_leader": row["supervising_leader"],
            "status": "open" if row["is_open"] else "done",
            "current_step": row["current_step"],
            "percent_complete": row["percent_complete"],
            "rag": row["rag"],
            "created": when(row["created"]),
            "finished": when(row["finished"]),
            "launched_by": row["launched_by"],
        }
        for row in rows
    ]


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
        tasks = with_candidates(selectors.work_item_list_for_case(case))
        return CaseTaskSerializer(tasks, many=True).data

    @extend_schema_field(ProgressUpdateSerializer(many=True))
    def get_progress(self, case):
        updates = case.progress_updates.select_related("author", "work_item__step")
        return ProgressUpdateSerializer(updates, many=True).data


def with_candidates(items: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    """Tasks as selectors.work_item_rows gives them, plus what the API shows beyond a page's row
    (organisation, leader role, candidates), in a fixed number of queries for any number."""
    active_staff = get_user_model().objects.filter(is_active=True).order_by("username")
    return items.select_related("department__head").prefetch_related(
        Prefetch("case__organisation", queryset=Organisation.objects.order_by()),
        Prefetch("leader_role", queryset=LeaderRole.objects.select_related("holder").order_by()),
        Prefetch("department__staff", queryset=active_staff),
    )


def task_candidates(item: WorkItem) -> list[str]:
    """Usernames who may take an open task (before separation of duties); [] once it is closed.

    Reads only what `with_candidates` loaded, so a list of tasks costs no query per row.
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


def task_list_data(rows: list[dict]) -> list[dict]:
    """TaskSerializer's output for cases/task_rows.task_list_rows' plain rows: the same keys in
    the same order, built without a DRF field per value (tests/test_api.py compares the two)."""
    when = _DATETIME.to_representation
    return [
        {
            "id": row["pk"],
            "case": row["case_id"],
            "measure": row["rf_measure"],
            "step": row["rf_step"],
            "kind": row["kind"],
            "status": row["status"],
            "outcome": row["outcome"],
            "assignee": row["rf_assignee"],
            "candidates": row["candidates"],
            "due_at": when(row["due_at"]),
            "original_due_at": when(row["original_due_at"]),
            "paused_at": when(row["paused_at"]),
            "pause_reason": row["pause_reason"],
        }
        for row in rows
    ]


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
    """Someone a task may be handed to (reassignment.reassign_candidate_list)."""

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
        fields = AUDIT_EVENT_FIELDS
