"""The API task list's rows as plain values (issue 20): a page of `/api/v1/tasks/` read in one
query, plus one for the queue staff of the page's department queues when it has any.

Read as model instances, a page joined four tables and prefetched four more (measure, step,
organisation, the queues' staff): five queries and their compiling for a single row, which made
the list twice as dear for a federation's staff member (whose queue holds tasks) as for people
whose list is empty. Here the relations are scalar subqueries on their primary keys (as
selectors.case_list_rows).
"""

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery

from workflows.cases.selectors import column_of
from workflows.models import (
    Department,
    LeaderRole,
    Measure,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)


def _active_name(model, key: str, via: str = "") -> Subquery:
    """The username of the active account at `via` of the `model` row whose pk is `key`."""
    user = f"{via}__" if via else ""
    rows = model.objects.filter(pk=OuterRef(key), **{f"{user}is_active": True})
    return Subquery(rows.order_by().values(f"{user}username"))


def task_list_rows(ids: list[int]) -> list[dict]:
    """The rows of the tasks `ids`, in that order: their own columns, the measure's code, the
    step's key, the assignee's username and `candidates`, who may take each open task (as
    common/reach.task_candidate_users: the active assignee, else the active holder of its
    leader post, head of its department, or staff of its department queue by username)."""
    if not ids:
        return []
    users = get_user_model()
    rows = (
        WorkItem.objects.filter(pk__in=ids)
        .order_by()
        .annotate(
            rf_measure=column_of(Measure, "code", "case__measure_id"),
            rf_step=column_of(StepTemplate, "key", "step_id"),
            rf_assignee=column_of(users, "username", "assignee_id"),
            rf_active_assignee=_active_name(users, "assignee_id"),
            rf_holder=_active_name(LeaderRole, "leader_role_id", "holder"),
            rf_head=_active_name(Department, "department_id", "head"),
        )
        .values(
            "pk",
            "case_id",
            "rf_measure",
            "rf_step",
            "kind",
            "status",
            "outcome",
            "rf_assignee",
            "due_at",
            "original_due_at",
            "paused_at",
            "pause_reason",
            "assignee_id",
            "leader_role_id",
            "department_id",
            "for_head",
            "rf_active_assignee",
            "rf_holder",
            "rf_head",
        )
    )
    by_id: dict[int, dict] = {row["pk"]: dict(row) for row in rows}
    queues = {
        row["department_id"]
        for row in by_id.values()
        if row["status"] == WorkItemStatus.OPEN
        and row["assignee_id"] is None
        and row["leader_role_id"] is None
        and row["department_id"] is not None
        and not row["for_head"]
    }
    staff: dict[int, list[str]] = {}
    if queues:
        members = (
            Department.staff.through.objects.filter(department_id__in=queues, user__is_active=True)
            .order_by("user__username")
            .values_list("department_id", "user__username")
        )
        for department, username in members:
            staff.setdefault(department, []).append(username)
    for row in by_id.values():
        row["candidates"] = _candidates(row, staff)
    return [by_id[pk] for pk in ids if pk in by_id]


def _candidates(row: dict, staff: dict[int, list[str]]) -> list[str]:
    if row["status"] != WorkItemStatus.OPEN:
        return []
    if row["assignee_id"] is not None:
        names = [row["rf_active_assignee"]]
    elif row["leader_role_id"] is not None:
        names = [row["rf_holder"]]
    elif row["department_id"] is None:
        names = []
    elif row["for_head"]:
        names = [row["rf_head"]]
    else:
        names = staff.get(row["department_id"], [])
    return [name for name in names if name is not None]
