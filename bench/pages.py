"""Every page of the boundary matrix (tests/test_boundary_matrix.py TABLE), filled with real ids
from the bench's data set, and who it is measured as (issue 20). bench.py measures them.

The matrix is about province A and its relations; here A is a generated provincial federation:
the one whose department head has the most open tasks. "same" is A's people (the provincial
coordinator, the head, their staff member), "parent" the national federation's (the national
coordinator, the auditor). A row is measured as each of those roles the matrix lets in (OK);
pages about one object (a case, a task, ...) as the national coordinator and the head; the
auditor only on the desk and the audit API (issue 20). Pages nobody may GET, forwards, the
admin and routes with more of the same view are listed as not measured, with why.
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from viewflow.workflow.models import Task

from tests.test_boundary_matrix import _route_text, all_routes, rows_for
from tests.test_url_access import OK, _path
from workflows.common import roles
from workflows.models import FeedbackCycle, Organisation, Profile, Report, WorkItem

# Who each measured role is in the matrix: (relation to A, role there).
ROLES = {
    "national coordinator": ("parent", "coordinator"),
    "provincial coordinator": ("same", "coordinator"),
    "federation head": ("same", "head"),
    "federation staff": ("same", "staff"),
    "auditor": ("parent", "auditor"),
}
OBJECT_ROLES = ("national coordinator", "federation head")
# The engine's task pages are one view per node; one node (implement) stands for the others.
ENGINE_NODE = "implement"

# issue 20's targets: (what is compared, limit in ms). Routes not named here have none.
TARGETS = [
    (r"workflows/(inbox|queue|my-work)/", ("p95", 100)),
    (r"workflows/dashboard/((cases|wall)/)?|workflows/", ("p95", 100)),
    (r"(workflows|api/v1)/search/", ("p95", 100)),
    (r"api/v1/(tasks|cases|measures|me/work)/", ("p95", 100)),
    (r"workflows/desk/audit/", ("p95", 100)),
    (r"workflows/cases/<int:case_id>/supervision/", ("p95", 100)),
    (r"workflows/appraisal/", ("p95", 100)),
    (r"workflows/cases/<int:case_id>/", ("p95", 150)),
    (r"(workflows|api/v1)/ledger\..*|workflows/desk/programme\.(csv|xlsx)", ("p50", 500)),
]


@dataclass
class Page:
    label: str  # the route, with its query
    who: str  # a key of ROLES
    path: str  # the URL asked for
    target: tuple[str, int] | None = None


def target_of(route: str):
    for pattern, target in TARGETS:
        if re.fullmatch(pattern, route):
            return target
    return None


def _a_people():
    """A (a generated province), its head with the most open tasks, their staff member and a
    provincial coordinator (created once: the generated federations have none)."""
    busiest = (
        WorkItem.objects.filter(
            status="open",
            for_head=True,
            department__organisation__code__startswith="scale-",
            department__organisation__level__key="provincial",
        )
        .values("department")
        .annotate(n=Count("pk"))
        .order_by("-n", "department")
        .values_list("department", flat=True)
        .first()
    )
    item = (
        WorkItem.objects.filter(status="open", kind="implement", department=busiest)
        .select_related("department__organisation", "department__head")
        .first()
    ) or (
        WorkItem.objects.filter(
            status="open",
            kind="implement",
            department__organisation__level__key="provincial",
            department__organisation__code__startswith="scale-",
        )
        .select_related("department__organisation", "department__head")
        .order_by("pk")
        .first()
    )
    department = item.department
    province = department.organisation
    users = get_user_model().objects
    coordinator, created = users.get_or_create(
        username=f"{province.code}.coordinator",
        defaults={"email": f"{province.code}.coordinator@example.org"},
    )
    if created:
        coordinator.groups.add(Group.objects.get(name=roles.COORDINATORS))
        Profile.objects.create(user=coordinator, organisation=province)
    people = {
        "national coordinator": users.get(username="coordinator.office"),
        "provincial coordinator": coordinator,
        "federation head": department.head,
        "federation staff": department.staff.order_by("pk").first(),
        "auditor": users.get(username="auditor"),
    }
    return province, item, people


def _ensure(what: str, make, missing: dict):
    try:
        return make()
    except Exception as error:  # noqa: BLE001 - a page without its object is listed, not fatal
        missing[what] = f"{type(error).__name__}: {error}"[:160]
        return None


def objects(item: WorkItem, people) -> tuple[dict, dict]:
    """Ids for the routes' parameters, made through the services where the generated data
    has none (evidence, an extension request, an order, an instruction, a programme report);
    returns (values, {parameter: why it is missing})."""
    from workflows.cases import evidence as cases_evidence
    from workflows.cases import services
    from workflows.reports import generate
    from workflows.reports import services as reports_services
    from workflows.supervision import extensions, instructions, orders

    case = item.case
    staff, coordinator = people["federation staff"], people["provincial coordinator"]
    missing: dict[str, str] = {}
    if item.assignee_id is None:
        item = _ensure("task_id", lambda: services.task_claim(item=item, user=staff), missing)
    item = WorkItem.objects.get(pk=item.pk) if item else None
    evidence = case.evidence.order_by("pk").first()
    if evidence is None and item is not None:
        upload = SimpleUploadedFile("bench-plan.pdf", b"%PDF-1.4 bench plan", "application/pdf")
        evidence = _ensure(
            "evidence_id",
            lambda: cases_evidence.evidence_add(case=case, item=item, user=staff, upload=upload),
            missing,
        )
    if not case.extension_requests.exists() and item is not None:
        _ensure(
            "request_id",
            lambda: extensions.extension_request(
                item=item,
                user=staff,
                reason="Waiting on the partners (bench).",
                new_date=item.due_at.date() + dt.timedelta(days=30),
                percent=30,
            ),
            missing,
        )
    if not case.supervision_orders.exists():
        _ensure(
            "order_id",
            lambda: orders.order_issue(case=case, by=coordinator, reason="Lagging (bench)."),
            missing,
        )
    if not case.instructions.exists():
        leader = case.supervising_leader.holder
        _ensure(
            "instruction_id",
            lambda: instructions.instruction_issue(case=case, leader=leader, text="Report (bench)"),
            missing,
        )
    programme = Report.objects.filter(
        kind="programme", organisation=case.organisation, status="ready"
    ).first() or _ensure(
        "report_id",
        lambda: generate.report_render(
            report_id=reports_services.report_request_programme(by=coordinator).pk
        ),
        missing,
    )
    completion = Report.objects.filter(kind="completion", status="ready").first()
    if completion is None:
        missing["report_id (completion)"] = "the data set has no finished case's report"
    cycle = FeedbackCycle.objects.filter(case=case).order_by("-period_start").first()
    engine_task = next(
        (t for t in Task.objects.filter(process_id=case.pk) if t.flow_task.name == ENGINE_NODE),
        None,
    )
    values = {
        "case_id": case.pk,
        "process_pk": case.pk,
        "task_id": item.pk if item else None,
        "evidence_id": evidence.pk if evidence else None,
        "cycle_id": cycle.pk if cycle else None,
        "department_id": case.lead_department_id,
        "request_id": case.extension_requests.values_list("pk", flat=True).first(),
        "order_id": case.supervision_orders.values_list("pk", flat=True).first(),
        "instruction_id": case.instructions.values_list("pk", flat=True).first(),
        "report:programme": programme.pk if programme else None,
        "report:completion": completion.pk if completion else None,
        "engine_task": engine_task.pk if engine_task else None,
        "uidb64": "MQ",
        "token": "not-a-real-token",
    }
    return values, missing


def _fill(text: str, names: set, row, values: dict):
    """The parameters of one route, or (None, why) when the data set has no such object."""
    if "fmt" in names:
        return {"fmt": row.target}, ""
    if "task_pk" in names:
        if f"/{ENGINE_NODE}/" not in text:
            return None, f"the engine's task view of another node (measured: {ENGINE_NODE})"
        return {"process_pk": values["process_pk"], "task_pk": values["engine_task"]}, ""
    if "pk" in names:
        if text.startswith("api/v1/reports"):
            key = f"report:{row.target}"
        else:
            key = "case_id" if text.startswith("api/v1/cases") else "task_id"
        return ({"pk": values[key]}, "") if values.get(key) else (None, f"no {key} in the data")
    if "report_id" in names:
        key = f"report:{row.target}"
        if not values.get(key):
            return None, f"no {row.target} report in the data set"
        return {"report_id": values[key]}, ""
    filled = {name: values.get(name) for name in names}
    empty = [name for name, value in filled.items() if value is None]
    return (None, f"no {', '.join(empty)} in the data set") if empty else (filled, "")


def _why_not(row, text: str) -> str:
    if text.startswith("admin/"):
        return "Django admin (administrators only)"
    if row.method != "get":
        return ""
    outcomes = {o for by_role in row.expected.values() for o in by_role.values()}
    if OK not in outcomes:
        return f"no role gets a page ({', '.join(sorted(outcomes))})"
    return ""


def pages(province: Organisation, values: dict, missing: dict) -> tuple[list[Page], list]:
    """(the pages to measure, [(route, why not measured)])."""
    measured, skipped = [], []
    for route, pattern in all_routes():
        text = _route_text(route)
        names = set(pattern.pattern.regex.groupindex)
        if not any(row.method == "get" for row in rows_for(route)):
            skipped.append((text, "POST only: an action, not a page"))
        for row in rows_for(route):
            if row.method != "get":
                continue
            why = _why_not(row, text)
            if why:
                skipped.append((text, why))
                continue
            kwargs, why = ({}, "") if not names else _fill(text, names, row, values)
            if kwargs is None:
                skipped.append((text, why))
                continue
            query = {
                key: (province.code if value == "beijing" else value)
                for key, value in row.query.items()
            }
            path = _path(route, pattern, kwargs)
            if query:
                path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
            shown = "&".join(f"{k}={'A' if v == 'beijing' else v}" for k, v in row.query.items())
            label = text + (f" ?{shown}" if shown else "")
            allowed = [who for who, (rel, role) in ROLES.items() if row.expected[rel][role] == OK]
            if names - {"fmt"}:
                allowed = [w for w in allowed if w in OBJECT_ROLES]
            if not re.search(r"desk/|api/v1/audit", text):
                allowed = [w for w in allowed if w != "auditor"]
            if text.startswith("engine/"):
                allowed = allowed[:1]
            for who in allowed:
                measured.append(Page(label, who, path, target_of(text)))
    skipped = sorted(set(skipped))
    skipped += [(f"(parameter) {name}", why) for name, why in missing.items()]
    return measured, skipped
