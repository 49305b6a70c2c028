"""Launching many cases of one measure at once (cascading), in a fixed number of queries per
batch rather than some forty per case.

Each case is still a MeasureFlow process: the rows are the ones viewflow's start writes when
`MeasureFlow.start.run` runs (the process and its case, the done start and route tasks, the
human task of the first step linked to them through `previous`), followed by what the flow's
callbacks do for a new task (its WorkItem, audit events, lights, hand-off notices). Only
`bulk_create` cannot write a multi-table child, so the case rows go in through the queryset's
own insert after their processes (tests/test_cascade_scale.py compares both paths row by row).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import PROCESS, STATUS
from viewflow.workflow.token import Token

from workflows.audit.trail import audit_record_many
from workflows.cases import routing
from workflows.common.calendar import WorkingCalendar
from workflows.deadlines.due_dates import due_fields_for_new_task
from workflows.models import (
    Case,
    Department,
    LeaderRole,
    Measure,
    Organisation,
    WorkItem,
)
from workflows.notifications import handoffs
from workflows.supervision import lights


def _first_step(measure: Measure):
    step = measure.steps.select_related("role").order_by("position").first()
    if step is None:
        raise ValidationError(f"measure {measure.code} has no steps")
    return step


def _roles_of(measure: Measure, organisations: list[Organisation], step):
    """Each organisation's departments that lead the case or its first step, by key, and its
    supervising leader role (one query each)."""
    departments: dict[int, dict[str, Department]] = {o.pk: {} for o in organisations}
    keys = {measure.lead_department.key, step.role.department_key} - {""}
    for department in Department.objects.filter(
        organisation__in=organisations, key__in=keys
    ).select_related("head"):
        departments[department.organisation_id][department.key] = department
    leaders = {
        role.organisation_id: role
        for role in LeaderRole.objects.filter(
            organisation__in=organisations, key=measure.supervising_leader.key
        ).select_related("holder")
    }
    lead_key = measure.lead_department.key
    for organisation in organisations:
        if lead_key not in departments[organisation.pk] or organisation.pk not in leaders:
            raise ValidationError(
                f"{organisation.title_en} has no {lead_key} department or "
                f"{measure.supervising_leader.key} leader role; give it its departments and roles "
                "first (workflows.organisations.services.organisation_roles_copy)."
            )
    return departments, leaders


def _insert_cases(cases: list[Case], now: dt.datetime) -> None:
    """The processes in one insert (their ids come back), then the cases' own rows."""
    from workflows.cases.flow import MeasureFlow

    processes = Process.objects.bulk_create(
        [Process(flow_class=MeasureFlow, status=PROCESS.NEW, created=now) for _ in cases]
    )
    for case, process in zip(cases, processes, strict=True):
        case.pk = case.process_ptr_id = process.pk
        case.flow_class, case.status, case.created = MeasureFlow, PROCESS.NEW, now
        case._state.adding, case._state.db = False, connection.alias
    fields = Case._meta.local_concrete_fields
    size = connection.ops.bulk_batch_size(fields, cases) or len(cases)
    for start in range(0, len(cases), size):
        Case._base_manager._insert(cases[start : start + size], fields=fields)


def _insert_tasks(cases: list[Case], owners: list, step, now: dt.datetime) -> list[Task]:
    """Per case the start and route tasks (done) and the first step's task, linked as viewflow
    links them; returns the human tasks."""
    from workflows.cases.flow import MeasureFlow

    token = Token("start")

    def task(node, case, **fields) -> Task:
        return Task(flow_task=node, process_id=case.pk, token=token, data={}, created=now, **fields)

    done = {"status": STATUS.DONE, "finished": now}
    starts = Task.objects.bulk_create(
        [task(MeasureFlow.start, c, flow_task_type="START", started=now, **done) for c in cases]
    )
    routes = Task.objects.bulk_create(
        [task(MeasureFlow.route, c, flow_task_type="SWITCH", **done) for c in cases]
    )
    node = getattr(MeasureFlow, step.kind)
    humans = Task.objects.bulk_create(
        [
            task(
                node,
                case,
                flow_task_type="HUMAN",
                owner=owner,
                status=STATUS.ASSIGNED if owner is not None else STATUS.NEW,
            )
            for case, owner in zip(cases, owners, strict=True)
        ]
    )
    links = Task.previous.through
    links.objects.bulk_create(
        [links(from_task_id=r.pk, to_task_id=s.pk) for s, r in zip(starts, routes, strict=True)]
        + [links(from_task_id=h.pk, to_task_id=r.pk) for r, h in zip(routes, humans, strict=True)]
    )
    return humans


def cases_launch_many(
    *,
    measure: Measure,
    by,
    organisations: list[Organisation],
    parent_case: Case | None = None,
    deadline_cap: dt.datetime | None = None,
) -> list[Case]:
    """Start the measure's case in each organisation (none of which may have one open: the
    caller checks, the partial unique index refuses a race), with the audit events, lights and
    notices case_launch gives one case; returns the cases in the organisations' order."""
    if not organisations:
        return []
    now = timezone.now()
    step = _first_step(measure)
    departments, leaders = _roles_of(measure, organisations, step)
    lead_key = measure.lead_department.key
    calendar = WorkingCalendar.load()
    due = due_fields_for_new_task(step=step, opened_at=now, calendar=calendar, cap=deadline_cap)
    capped_from = due.pop("capped_from", None)
    with transaction.atomic():
        cases = [
            Case(
                measure=measure,
                organisation=organisation,
                parent_case=parent_case,
                deadline_cap=deadline_cap,
                lead_department=departments[organisation.pk][lead_key],
                supervising_leader=leaders[organisation.pk],
                current_step=step,
                launched_by=by,
            )
            for organisation in organisations
        ]
        _insert_cases(cases, now)
        routings, owners = [], []
        for case in cases:
            route = routing.step_routing(
                case=case, step=step, departments=departments[case.organisation_id]
            )
            routings.append(route)
            # A new case has no earlier work to return to its author: the holder, or the queue.
            owners.append(route.single_holder)
        tasks = _insert_tasks(cases, owners, step, now)
        items = WorkItem.objects.bulk_create(
            [
                routing.work_item_new(task=task, case=case, step=step, routing=route, due=due)
                for case, route, task in zip(cases, routings, tasks, strict=True)
            ]
        )
        lights.cases_lights_refresh(cases=cases, now=now, calendar=calendar)
        handoffs.first_tasks_opened(items=items)
        # Appending takes no lock: the sealer chains these events after the batch commits.
        audit_record_many(_audit_events(cases, items, by, step, deadline_cap, capped_from))
    return cases


def _audit_events(cases, items, by, step, cap, capped_from) -> list[dict]:
    """The events case_launch and the flow's task callback record, in the same order."""
    events = []
    for case, item in zip(cases, items, strict=True):
        events.append(
            {
                "verb": "task_created",
                "case_id": case.pk,
                "work_item_id": item.pk,
                "data": {
                    "step": step.key,
                    "kind": step.kind,
                    "assignee": routing.username_of(item.assignee),
                    "due_at": item.due_at,
                    **({"deadline_cap": cap, "capped_from": capped_from} if capped_from else {}),
                },
            }
        )
        if item.assignee is not None:
            events.append(
                {
                    "verb": "task_assigned",
                    "case_id": case.pk,
                    "work_item_id": item.pk,
                    "data": {"to": item.assignee.username},
                }
            )
        data = {"measure": case.measure.code, "organisation": case.organisation.code}
        if case.parent_case_id is not None:
            data.update(parent_case=case.parent_case_id, deadline_cap=cap)
        events.append({"verb": "case_launched", "actor": by, "case_id": case.pk, "data": data})
    return events
