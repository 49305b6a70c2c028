"""Where a step's task goes: the department queue, its head or a leader role, and who gets
it straight away; the WorkItem that records it when the flow opens the task.
"""

from dataclasses import dataclass

from django.utils import timezone

from workflows.audit.trail import audit_record
from workflows.deadlines.due_dates import deadline_caps_follow, due_fields_for_new_task
from workflows.models import (
    DECIDED_KINDS,
    PRODUCING_KINDS,
    Case,
    Department,
    LeaderRole,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)
from workflows.notifications import handoffs


@dataclass(frozen=True)
class Routing:
    department: Department | None = None
    leader_role: LeaderRole | None = None
    for_head: bool = False

    @property
    def single_holder(self):
        if self.leader_role is not None:
            return self.leader_role.holder
        if self.for_head and self.department is not None:
            return self.department.head
        return None


def step_routing(*, case: Case, step: StepTemplate, departments: dict | None = None) -> Routing:
    """Resolve a step's role to a department queue, a department head or a leader role.

    `departments`: the case's organisation's departments by key, when a batch has them."""
    role = step.role
    if role.key == "lead_department_staff":
        return Routing(department=case.lead_department)
    if role.key == "lead_department_head":
        return Routing(department=case.lead_department, for_head=True)
    if role.key == "supervising_leader":
        return Routing(leader_role=case.supervising_leader)
    if role.department_key:
        # research_office, secretariat and any role an admin adds that names a department:
        # the head of that department in the case's own organisation.
        if departments is not None:
            if role.department_key not in departments:
                raise Department.DoesNotExist(f"no {role.department_key} department")
            return Routing(department=departments[role.department_key], for_head=True)
        department = Department.objects.get(organisation=case.organisation, key=role.department_key)
        return Routing(department=department, for_head=True)
    raise ValueError(f"step role {role.key!r} names no department and is not a built-in role")


def _previous_producer(case: Case):
    """Who completed the latest producing (submit/implement) step: the work now under review."""
    last = (
        case.work_items.filter(status=WorkItemStatus.DONE, kind__in=PRODUCING_KINDS)
        .order_by("-finished_at", "-pk")
        .only("completed_by")
        .first()
    )
    return last.completed_by if last else None


def step_assignee(*, case: Case):
    """The user a new task goes to straight away, or None to leave it in a queue."""
    step = case.current_step
    if step is None:
        return None
    routing = step_routing(case=case, step=step)
    if routing.single_holder is not None:
        return routing.single_holder
    if step.kind in PRODUCING_KINDS:
        # Work returned for rework goes back to the person who did it, if still on staff.
        earlier = (
            case.work_items.filter(step=step, status=WorkItemStatus.DONE)
            .order_by("-finished_at")
            .first()
        )
        if earlier and earlier.completed_by_id and routing.department is not None:
            if routing.department.staff.filter(pk=earlier.completed_by_id).exists():
                return earlier.completed_by
    return None


def work_item_new(*, task, case: Case, step, routing, due: dict) -> WorkItem:
    """An unsaved work item for a step's new task: its due fields, and whoever routing sent it
    to (one definition for the single path here and the batched launch in launch_many)."""
    return WorkItem(
        **due,
        task=task,
        case=case,
        step=step,
        kind=step.kind,
        department=routing.department,
        leader_role=routing.leader_role,
        for_head=routing.for_head,
        assignee=task.owner,
    )


def work_item_open(*, task, case: Case) -> WorkItem:
    """Create the WorkItem for a new human task (called by the flow when a task is created)."""
    step = case.current_step
    if step is None:
        raise ValueError(f"case {case.pk} has no current step to open a task on")
    routing = step_routing(case=case, step=step)
    cap = case.deadline_cap
    due = due_fields_for_new_task(step=step, opened_at=timezone.now(), cap=cap)
    capped_from = due.pop("capped_from", None)
    item = work_item_new(task=task, case=case, step=step, routing=routing, due=due)
    item.produced_by = _previous_producer(case) if step.kind in DECIDED_KINDS else None
    item.save(force_insert=True)
    audit_record(
        verb="task_created",
        case=case,
        work_item=item,
        data={
            "step": step.key,
            "kind": step.kind,
            "assignee": username_of(task.owner),
            "due_at": item.due_at,
            # Present when the parent case's deadline cut this task's own due date short.
            **({"deadline_cap": cap, "capped_from": capped_from} if capped_from else {}),
        },
    )
    if task.owner is not None:
        audit_record(
            verb="task_assigned", case=case, work_item=item, data={"to": task.owner.username}
        )
    # A new step moves the case's projected overall deadline: its cascaded children follow.
    deadline_caps_follow(cases=[case.pk], reason=f"parent case's step {step.key} opened")
    handoffs.task_opened(item=item)
    return item


def username_of(user) -> str | None:
    return user.get_username() if user is not None else None
