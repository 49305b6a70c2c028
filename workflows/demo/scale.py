"""A national-scale data set for benchmarks: N organisations below the national federation,
each with its departments, leader roles, users and one case per measure at a spread-out step.

This writes rows in bulk, bypassing the services on purpose (it would take hours otherwise):
the rows are the ones the services would have written (viewflow task + WorkItem per step,
due dates from the calendar, progress updates, notification log rows), so pages, the sweep
and the digest see realistic data. It is a benchmark fixture, never a way to change real data.
"""

import datetime as dt
import random
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS
from viewflow.workflow.token import Token

from workflows.common import change_stamp, roles
from workflows.common.calendar import WorkingCalendar, due_at_for, local_date
from workflows.deadlines.policy import alert_floor, longest_reminder_notice
from workflows.models import (
    PRODUCING_KINDS,
    Case,
    Department,
    LeaderRole,
    Measure,
    Notification,
    NotificationKind,
    NotificationStatus,
    Organisation,
    OrganisationLevel,
    Outcome,
    Profile,
    ProgressUpdate,
    StepKind,
    WorkItem,
    WorkItemStatus,
)


def _flow():
    from workflows.cases.flow import MeasureFlow

    return MeasureFlow


@dataclass
class ScaleResult:
    organisations: int = 0
    users: int = 0
    cases: int = 0
    work_items: int = 0
    open_items: int = 0
    overdue_items: int = 0
    progress_updates: int = 0
    notifications: int = 0


def _levels():
    by_key = {level.key: level for level in OrganisationLevel.objects.all()}
    return by_key["provincial"], by_key["prefecture"], by_key["county"]


def _tree_plan(count: int, start: int):
    """(index, level, parent index or None) for each new organisation: 31 provinces first,
    then prefectures spread over the provinces, then counties over the prefectures."""
    provinces = min(count, 31)
    prefectures = min(count - provinces, max(0, (count - provinces) // 8))
    plan = []
    for i in range(count):
        n = start + i
        if i < provinces:
            plan.append((n, "provincial", None))
        elif i < provinces + prefectures:
            plan.append((n, "prefecture", start + (i % provinces)))
        else:
            parent = start + provinces + (i % max(prefectures, 1)) if prefectures else start
            plan.append((n, "county", parent))
    return plan


def _copy_structure(orgs: list[Organisation], password_hash: str, result: ScaleResult):
    """Departments, leader roles and users (head + staff per department, leader holders)."""
    national = Organisation.national()
    template_depts = list(Department.objects.filter(organisation=national).order_by("key"))
    template_leaders = list(LeaderRole.objects.filter(organisation=national).order_by("key"))
    User = get_user_model()
    users = []
    for org in orgs:
        for dept in template_depts:
            for suffix in ("head", "staff"):
                users.append(
                    User(
                        username=f"{org.code}.{dept.key}.{suffix}",
                        email=f"{org.code}.{dept.key}.{suffix}@example.org",
                        password=password_hash,
                        first_name=suffix.title(),
                        last_name=dept.title_en[:150],
                    )
                )
        for leader in template_leaders:
            users.append(
                User(
                    username=f"{org.code}.{leader.key}",
                    email=f"{org.code}.{leader.key}@example.org",
                    password=password_hash,
                    first_name=leader.title_en[:150],
                )
            )
    User.objects.bulk_create(users, batch_size=2000)
    by_name = dict(
        User.objects.filter(username__in=[u.username for u in users]).values_list("username", "pk")
    )
    result.users += len(by_name)
    Profile.objects.bulk_create(
        [
            Profile(user_id=by_name[u.username], organisation_id=_org_of(u.username, orgs))
            for u in users
        ],
        batch_size=2000,
    )
    groups = {g.name: g.pk for g in Group.objects.all()}
    memberships = []
    for u in users:
        group = (
            roles.DEPARTMENT_HEADS
            if u.username.endswith(".head")
            else roles.DEPARTMENT_STAFF
            if u.username.endswith(".staff")
            else roles.LEADERS
        )
        memberships.append(User.groups.through(user_id=by_name[u.username], group_id=groups[group]))
    User.groups.through.objects.bulk_create(memberships, batch_size=5000)

    departments = [
        Department(
            organisation=org,
            key=dept.key,
            title_en=dept.title_en,
            title_zh=dept.title_zh,
            name_check=dept.name_check,
            head_id=by_name[f"{org.code}.{dept.key}.head"],
        )
        for org in orgs
        for dept in template_depts
    ]
    Department.objects.bulk_create(departments, batch_size=2000)
    dept_ids = {
        (org_id, key): pk
        for pk, org_id, key in Department.objects.filter(organisation__in=orgs).values_list(
            "pk", "organisation_id", "key"
        )
    }
    Department.staff.through.objects.bulk_create(
        [
            Department.staff.through(
                department_id=dept_ids[(org.pk, dept.key)],
                user_id=by_name[f"{org.code}.{dept.key}.staff"],
            )
            for org in orgs
            for dept in template_depts
        ],
        batch_size=5000,
    )
    LeaderRole.objects.bulk_create(
        [
            LeaderRole(
                organisation=org,
                key=leader.key,
                title_en=leader.title_en,
                title_zh=leader.title_zh,
                person_name="",
                assignment=leader.assignment,
                holder_id=by_name[f"{org.code}.{leader.key}"],
            )
            for org in orgs
            for leader in template_leaders
        ],
        batch_size=2000,
    )
    leader_ids = {
        (org_id, key): pk
        for pk, org_id, key in LeaderRole.objects.filter(organisation__in=orgs).values_list(
            "pk", "organisation_id", "key"
        )
    }
    return dept_ids, leader_ids, by_name


def _org_of(username: str, orgs: list[Organisation]) -> int:
    code = username.split(".", 1)[0]
    return next(o.pk for o in orgs if o.code == code)


def _insert_cases(rows: list[tuple]) -> None:
    # Case is a multi-table child of viewflow's Process, which bulk_create cannot write.
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO workflows_case (process_ptr_id, measure_id, organisation_id,"
            " parent_case_id, lead_department_id, supervising_leader_id, current_step_id,"
            " percent_complete, rag, is_open, launched_by_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)",
            rows,
        )


def generate(
    *, organisations: int, seed: int = 2018, overdue_share: float = 0.05, now=None, stdout=None
) -> ScaleResult:
    """Create `organisations` new federations with 30 cases each; returns what was written."""
    # A seeded generator makes the benchmark data set reproducible; it guards no secret.
    rng = random.Random(seed)  # nosec B311
    now = now or timezone.now()
    calendar = WorkingCalendar.load()
    result = ScaleResult()
    password_hash = make_password("scale-demo-password")
    measures = list(
        Measure.objects.select_related("lead_department", "supervising_leader").prefetch_related(
            "steps__role"
        )
    )
    steps_of = {m.pk: sorted(m.steps.all(), key=lambda s: s.position) for m in measures}
    provincial, prefecture, county = _levels()
    level_of = {"provincial": provincial, "prefecture": prefecture, "county": county}
    national = Organisation.national()
    start = Organisation.objects.count() + 1
    plan = _tree_plan(organisations, start)
    created_by_index: dict[int, Organisation] = {}
    # (organisation, measure) -> case id, starting with the national cases already launched.
    case_of = {
        (org_id, measure_id): pk
        for pk, org_id, measure_id in Case.objects.filter(is_open=True).values_list(
            "pk", "organisation_id", "measure_id"
        )
    }
    batch = 100
    for offset in range(0, len(plan), batch):
        chunk = plan[offset : offset + batch]
        with transaction.atomic():
            orgs = []
            for index, level_key, parent_index in chunk:
                parent = created_by_index.get(parent_index, national)
                org = Organisation(
                    code=f"scale-{index:05d}",
                    title_en=f"Federation {index} ({level_key})",
                    title_zh=f"第{index}号{level_of[level_key].title_zh[:6]}",
                    level=level_of[level_key],
                    parent=parent,
                )
                orgs.append(org)
            Organisation.objects.bulk_create(orgs)
            change_stamp.bump_on_commit()  # written in bulk, not audited
            for org, (index, _level, _parent) in zip(orgs, chunk, strict=True):
                org.path = f"{org.parent.path}{org.pk}/"
                created_by_index[index] = org
            Organisation.objects.bulk_update(orgs, ["path"])
            result.organisations += len(orgs)
            dept_ids, leader_ids, users = _copy_structure(orgs, password_hash, result)
            _generate_cases(
                case_of,
                rng,
                orgs,
                measures,
                steps_of,
                dept_ids,
                leader_ids,
                users,
                calendar,
                now,
                overdue_share,
                result,
            )
        if stdout is not None:
            stdout.write(
                f"  {result.organisations} organisations, {result.cases} cases, "
                f"{result.work_items} tasks"
            )
    return result


def _generate_cases(
    case_of,
    rng,
    orgs,
    measures,
    steps_of,
    dept_ids,
    leader_ids,
    users,
    calendar,
    now,
    overdue_share,
    result,
):
    processes, case_rows, plans = [], [], []
    for org in orgs:
        for measure in measures:
            steps = steps_of[measure.pk]
            # Spread over the plan: a few not started beyond step 1, most mid-way, some done.
            reached = min(len(steps), int(rng.triangular(0, len(steps) + 1, len(steps) * 0.75)))
            done = reached >= len(steps)
            started = now - dt.timedelta(days=rng.randint(30, 400))
            processes.append(
                Process(
                    flow_class=_flow(),
                    status=STATUS.DONE if done else STATUS.NEW,
                    created=started,
                    finished=now if done else None,
                    data={},
                )
            )
            plans.append((org, measure, steps, reached, done, started))
    Process.objects.bulk_create(processes, batch_size=2000)
    tasks, items_meta = [], []
    for process, (org, measure, steps, reached, done, started) in zip(
        processes, plans, strict=True
    ):
        lead = dept_ids[(org.pk, measure.lead_department.key)]
        leader = leader_ids[(org.pk, measure.supervising_leader.key)]
        total_days = sum(s.working_days for s in steps) or 1
        done_days = sum(s.working_days for s in steps[:reached])
        percent = 100 if done else round(100 * done_days / total_days)
        rag = "red" if rng.random() < 0.04 else ("amber" if rng.random() < 0.1 else "green")
        current = None if done else steps[reached]
        # Linked to the parent federation's case of the same measure, as a cascade would.
        parent_case = case_of.get((org.parent_id, measure.pk))
        case_of[(org.pk, measure.pk)] = process.pk
        case_rows.append(
            (
                process.pk,
                measure.pk,
                org.pk,
                parent_case,
                lead,
                leader,
                current.pk if current else None,
                percent,
                rag,
                not done,
            )
        )
        moment = started
        for step, is_open, outcome in _history(rng, steps, reached, done):
            opened = moment
            due_day = calendar.add_working_days(local_date(opened), step.working_days)
            due = due_at_for(due_day)
            if is_open:
                # A share of the open tasks is overdue; the rest falls due over the next months.
                if rng.random() < overdue_share:
                    due = now - dt.timedelta(days=rng.randint(1, 20))
                else:
                    due = now + dt.timedelta(days=rng.randint(1, 120))
            finished = None if is_open else opened + dt.timedelta(days=rng.randint(1, 10))
            routing = _routing(step, org, lead, leader, dept_ids)
            tasks.append(
                Task(
                    process=process,
                    flow_task=getattr(_flow(), step.kind),
                    flow_task_type="HUMAN",
                    status=STATUS.NEW if is_open else STATUS.DONE,
                    created=opened,
                    finished=finished,
                    token=Token("start"),
                )
            )
            items_meta.append(
                (process, org, step, routing, is_open, opened, due, finished, outcome)
            )
            moment = finished or moment
    Task.objects.bulk_create(tasks, batch_size=5000)
    _insert_cases(case_rows)
    work_items, progress = [], []
    notice = longest_reminder_notice()
    dept_key_by_pk = {pk: key for (_org, key), pk in dept_ids.items()}
    leader_key = {m.pk: m.supervising_leader.key for m in measures}
    for task, (process, org, step, routing, is_open, opened, due, finished, outcome) in zip(
        tasks, items_meta, strict=True
    ):
        department_id, leader_id, for_head = routing
        worker = _worker(
            org,
            department_id,
            leader_id,
            for_head,
            users,
            dept_key_by_pk,
            leader_key[step.measure_id],
        )
        work_items.append(
            WorkItem(
                task_id=task.pk,
                case_id=process.pk,
                step=step,
                kind=step.kind,
                department_id=department_id,
                leader_role_id=leader_id,
                for_head=for_head,
                assignee_id=None if is_open and step.kind in PRODUCING_KINDS else worker,
                status=WorkItemStatus.OPEN if is_open else WorkItemStatus.DONE,
                outcome=outcome,
                completed_by_id=None if is_open else worker,
                percent=0 if is_open else 100,
                finished_at=finished,
                due_at=due,
                original_due_at=due,
                next_alert_at=alert_floor(due, notice) if is_open else None,
                due_start=local_date(opened),
                due_working_days=step.working_days,
            )
        )
        if step.kind == StepKind.IMPLEMENT and worker:
            progress.append((process.pk, task.pk, worker, opened))
    WorkItem.objects.bulk_create(work_items, batch_size=5000)
    ProgressUpdate.objects.bulk_create(
        [
            ProgressUpdate(
                case_id=case_id,
                work_item_id=item_id,
                author_id=author,
                percent=pct,
                note=f"Progress at {pct}%",
            )
            for case_id, item_id, author, _opened in progress
            for pct in (30, 60)
        ],
        batch_size=5000,
    )
    notifications = [
        Notification(
            dedupe_key=f"reminder:{item.task_id}:3:{item.due_at.isoformat()}:{item.department_id}",
            recipient_id=item.completed_by_id or item.assignee_id,
            kind=NotificationKind.REMINDER,
            case_id=item.case_id,
            work_item_id=item.task_id,
            rung=3,
            due_at=item.due_at,
            status=NotificationStatus.SENT,
            attempts=1,
            sent_at=item.finished_at,
        )
        for item in work_items
        if item.status == WorkItemStatus.DONE and (item.completed_by_id or item.assignee_id)
    ]
    Notification.objects.bulk_create(notifications, batch_size=5000)
    result.cases += len(processes)
    result.work_items += len(work_items)
    result.open_items += sum(1 for i in work_items if i.status == WorkItemStatus.OPEN)
    result.overdue_items += sum(
        1 for i in work_items if i.status == WorkItemStatus.OPEN and i.due_at < now
    )
    result.progress_updates += 2 * len(progress)
    result.notifications += len(notifications)


# Share of passed approvals that first returned the work for rework (then approved it).
RETURN_SHARE = 0.45


def _history(rng, steps, reached, done):
    """(step, is_open, outcome) for each task the case has had, returns for rework included."""
    history = []
    last_producer = None
    for position, step in enumerate(steps[: reached + (0 if done else 1)]):
        is_open = position == reached and not done
        if step.kind in PRODUCING_KINDS:
            last_producer = step
        elif not is_open and last_producer is not None and rng.random() < RETURN_SHARE:
            history.append((step, False, Outcome.RETURNED))
            history.append((last_producer, False, _outcome(last_producer.kind)))
        history.append((step, is_open, "" if is_open else _outcome(step.kind)))
    return history


def _routing(step, org, lead, leader, dept_ids):
    role = step.role
    if role.key == "lead_department_staff":
        return lead, None, False
    if role.key == "lead_department_head":
        return lead, None, True
    if role.key == "supervising_leader":
        return None, leader, False
    return dept_ids[(org.pk, role.department_key)], None, True


def _worker(org, department_id, leader_id, for_head, users, dept_key_by_pk, leader_key_of):
    if leader_id is not None:
        return users.get(f"{org.code}.{leader_key_of}")
    return users.get(
        f"{org.code}.{dept_key_by_pk[department_id]}.{'head' if for_head else 'staff'}"
    )


def _outcome(kind: str) -> str:
    if kind == StepKind.SUBMIT:
        return Outcome.SUBMITTED
    if kind == StepKind.IMPLEMENT or kind == StepKind.REVIEW:
        return Outcome.COMPLETED
    return Outcome.APPROVED
