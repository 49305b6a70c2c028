"""The boundary matrix (issue 15): every URL pattern and API route in the project, requested as
every role (staff, head, leader, coordinator, auditor) from each relation to province A
(beijing), which owns one of everything: from A itself, from its parent (the national
federation), from its child (beijing-city-1) and from its sibling (shanghai).

The table (`TABLE`) is data: each row matches routes (a regular expression over the route, as
`django.urls.get_resolver` builds it) and gives the outcome for every role of every relation.
Every row that matches a route is one probe of it (the same route may be tried on two of A's
reports, or with `?organisation=beijing`). A route no row matches fails
`test_every_route_is_classified`, so a new route cannot ship until someone decides who may use
it. Rows on A's objects (`on_a`) can only say DENIED for the child and the sibling, and every
answer a child or a sibling gets (a list, an export, a PDF) is searched for A's marks: a
sentinel word written into A's texts, A's federation name and its code and usernames.

Outcomes are those of tests/test_url_access.py (OK, DONE, REFUSED, DENIED, REDIRECT, CONFLICT,
ADMIN) plus BAD, a 400 (a visible task asked for something its state refuses).
"""

import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from viewflow.workflow.models import Task

from tests.casework import open_item_of, walk_by_services
from tests.conftest import DEMO_PASSWORD
from tests.test_url_access import (
    ADMIN,
    CONFLICT,
    DENIED,
    DONE,
    OK,
    REDIRECT,
    REFUSED,
    _path,
    _route_text,
    all_routes,
    outcome_of,
)
from workflows.cases import evidence as cases_evidence
from workflows.cases import launch as cases_launch
from workflows.cases import services
from workflows.common import roles
from workflows.common.calendar import local_date
from workflows.deadlines import due_dates as deadlines
from workflows.demo.accounts import demo_seed
from workflows.models import (
    CascadeJob,
    Case,
    Evidence,
    FeedbackCycle,
    Measure,
    Organisation,
    Profile,
    Report,
    SavedView,
    ScoreEntry,
    ScoreKind,
    WorkItem,
)
from workflows.reports import generate
from workflows.reports import services as reports_services
from workflows.supervision import cycles as supervision_cycles
from workflows.supervision import extensions, instructions, orders

BAD = "BAD"  # 400

# Province A and its four relations: the federation itself, its parent, its child, a sibling.
A = "beijing"
RELATIONS = {"same": A, "parent": "acftu", "child": "beijing-city-1", "sibling": "shanghai"}
ROLES = ("staff", "head", "leader", "coordinator", "auditor")
# A's case is measure 2.2's: network_work leads it, secretary_publicity_network supervises it.
# Each relation's staff, head and leader hold those same posts in their own federation.
DEPARTMENT, LEADER = "network_work", "secretary_publicity_network"
SENTINEL = "ALPHA7Q"  # written into every text A's people typed
A_MARKS = (SENTINEL, "Beijing Federation", '"beijing"', "beijing.")


def username(role: str, relation: str) -> str:
    """Who plays the role in that federation (the demo seed's accounts, plus auditors)."""
    code = RELATIONS[relation]
    prefix = "" if relation == "parent" else f"{code}."
    return {
        "staff": f"{prefix}{DEPARTMENT}.staff",
        "head": f"{prefix}{DEPARTMENT}.head",
        "leader": f"{prefix}{LEADER}",
        "coordinator": "coordinator.office" if relation == "parent" else f"{prefix}coordinator",
        "auditor": f"{prefix}auditor",
    }[role]


# --------------------------------------------------------------------------- the table


def each(outcome: str = OK, **by_role: str) -> dict[str, str]:
    """One relation's row: `outcome` for every role but those named."""
    return {role: by_role.get(role, outcome) for role in ROLES}


def anywhere(outcome: str = OK, **by_role: str) -> dict[str, dict[str, str]]:
    """Not about A: each relation's roles get the same."""
    return {relation: each(outcome, **by_role) for relation in RELATIONS}


def on_a(same: dict[str, str], parent: dict[str, str] | None = None) -> dict:
    """One of A's objects (or A's own scope): its child and its sibling are always refused."""
    return {
        "same": same,
        "parent": same if parent is None else parent,
        "child": each(DENIED),
        "sibling": each(DENIED),
    }


OVERSEERS = each(DENIED, coordinator=OK, auditor=OK)
COORDINATORS = each(DENIED, coordinator=OK)
# viewflow's engine pages: national coordinators and auditors only.
ENGINE_VIEW = {**anywhere(DENIED), "parent": OVERSEERS}
ENGINE_FORWARD = {
    **anywhere(DENIED),
    "parent": each(DENIED, coordinator=REDIRECT, auditor=REDIRECT),
}


@dataclass(frozen=True)
class Row:
    route: str  # a regular expression matched against the whole route
    expected: dict  # relation -> role -> outcome
    method: str = "get"
    data: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    target: str = ""  # which of A's objects fills the route, when it may be several
    why: str = ""

    @property
    def about_a(self) -> bool:
        return self.expected.get("child") == each(DENIED) == self.expected.get("sibling")


# A coordinator's or head's pause of a task already paused is a 400; the staff member may not.
PAUSE_ROLES = each(DENIED, head=BAD, coordinator=BAD)

TABLE: list[Row] = [
    # --- public, or one's own account
    Row(r"healthz", anywhere()),
    Row(r"api/schema/", anywhere()),
    Row(r"accounts/login/", anywhere()),
    Row(r"accounts/logout/", anywhere(REDIRECT), method="post"),
    Row(r"accounts/password_reset/(done/)?", anywhere()),
    Row(r"accounts/reset/<uidb64>/<token>/", anywhere()),
    Row(r"accounts/reset/done/", anywhere()),
    Row(r"accounts/password_change/(done/)?", anywhere()),
    Row(r"i18n/setlang/", anywhere(REDIRECT), method="post", data={"language": "zh-hans"}),
    Row(r"", anywhere(REDIRECT)),
    Row(r"workflows/me/notifications/", anywhere()),
    Row(r"workflows/me/substitute/", anywhere()),
    Row(r"workflows/me/calendar/", anywhere(), why="one's own calendar address, never another's"),
    Row(
        r"workflows/me/calendar/",
        anywhere(DONE, auditor=DENIED),
        method="post",
        data={"action": "revoke"},
        why="revokes one's own address (none here); auditors hold no work and post nothing",
    ),
    Row(
        r"calendar/<str:token>\.ics",
        anywhere(DENIED),
        why="public, keyed by its token alone: an unknown token is a 404 to everyone",
    ),
    Row(
        r"workflows/me/substitute/",
        anywhere(REFUSED, auditor=DENIED),
        method="post",
        data={"substitute": "no-such-user", "starts_on": "2027-01-04", "ends_on": "2027-01-08"},
        why="one's own substitute: an unknown user is refused with a message",
    ),
    Row(
        r"workflows/views/save/",
        anywhere(DONE),
        method="post",
        data={"page": "inbox", "name": "Mine", "querystring": "sort=measure"},
        why="one's own saved view; the list applies reach when it is replayed",
    ),
    Row(
        r"workflows/views/<int:view_id>/delete/",
        on_a(each(DENIED, staff=DONE), each(DENIED)),
        method="post",
        why="only its owner (A's staff member) deletes it",
    ),
    Row(
        r"workflows/me/notifications/",
        anywhere(DONE),
        method="post",
        data={"notification_mode": "digest"},
    ),
    # --- lists: each user's own reach (their answers are searched for A's marks)
    Row(r"workflows/((dashboard|my-work|inbox|queue|archive)/)?", anywhere()),
    Row(r"workflows/dashboard/(cases|wall)/", anywhere(), why="figures and cases in own reach"),
    Row(r"workflows/reports/", anywhere()),
    Row(r"workflows/appraisal/", anywhere(), why="the user's own federation's ranking"),
    Row(r"workflows/appraisal/bulletin\.pdf", anywhere()),
    Row(r"workflows/ledger\.<str:fmt>", anywhere(), target="xlsx"),
    Row(r"workflows/ledger\.<str:fmt>", anywhere(), target="docx"),
    Row(r"api/v1/(measures|cases|tasks|reports|me/work)/", anywhere()),
    Row(
        r"api/v1/(measures|cases|tasks)/",
        anywhere(),
        query={"organisation": A},
        why="a federation out of reach filters to nothing: empty, never A's rows",
    ),
    Row(r"workflows/search/", anywhere()),
    Row(r"(workflows|api/v1)/search/", anywhere(), query={"q": "2.2"}, why="A's case never found"),
    Row(r"(workflows|api/v1)/search/", anywhere(), query={"q": "network"}, why="nor A's people"),
    Row(r"workflows/launch/", anywhere(DENIED, coordinator=OK)),
    Row(
        r"api/v1/cases/",
        anywhere(DENIED, coordinator=OK),
        method="post",
        data={"measure": "2.5"},
        why="201: coordinators launch in their own federation",
    ),
    Row(
        r"workflows/reports/request/",
        anywhere(DONE, staff=DENIED, head=DENIED),
        method="post",
        data={"aspect": ""},
        why="a programme report of the requester's own federation",
    ),
    Row(
        r"api/v1/reports/",
        anywhere(OK, staff=DENIED, head=DENIED),
        method="post",
        data={"kind": "programme"},
    ),
    # --- the logs and the desk: coordinators and auditors, each within their own reach
    Row(r"workflows/notifications/", anywhere(DENIED, coordinator=OK, auditor=OK)),
    Row(
        r"workflows/desk/(audit/|audit\.csv|programme\.csv|programme\.xlsx)",
        anywhere(DENIED, coordinator=OK, auditor=OK),
    ),
    Row(r"api/v1/(notifications|audit)/", anywhere(DENIED, coordinator=OK, auditor=OK)),
    Row(
        r"workflows/desk/audit/verify/",
        {**anywhere(DENIED), "parent": each(DENIED, coordinator=DONE, auditor=DONE)},
        method="post",
        why="the chain is one for the whole tree: verified from the national desk",
    ),
    # --- A's scope, asked for by name
    Row(r"workflows/dashboard/", on_a(each()), query={"organisation": A}),
    Row(r"workflows/dashboard/(cases|wall)/", on_a(each()), query={"organisation": A}),
    Row(r"workflows/dashboard/cases/", on_a(each()), query={"within": A, "overdue": "1"}),
    Row(r"workflows/appraisal/", on_a(each()), query={"organisation": A}),
    Row(
        r"workflows/appraisal/",
        on_a(COORDINATORS | {"coordinator": DONE}),
        method="post",
        data={"organisation": A},
        why="rebuilding A's month: A's coordinators and those above, audited",
    ),
    Row(r"workflows/appraisal/bulletin\.pdf", on_a(each()), query={"organisation": A}),
    Row(r"workflows/appraisal/departments/<int:department_id>/", on_a(each())),
    Row(r"workflows/ledger\.<str:fmt>", on_a(each()), query={"organisation": A}, target="xlsx"),
    Row(
        r"workflows/ledger\.<str:fmt>",
        on_a(each()),
        query={"organisation": A, "below": "1"},
        target="docx",
    ),
    # --- A's case, its task (the implementation step, the staff member's, paused), evidence
    Row(r"workflows/cases/<int:case_id>/", on_a(each())),
    Row(r"workflows/cascade-jobs/<int:job_id>/", on_a(each()), why="the case's reach"),
    Row(r"api/v1/cascade-jobs/<int:pk>", on_a(each()), why="the case's reach"),
    Row(r"workflows/tasks/<int:task_id>/", on_a(each())),
    Row(r"workflows/evidence/<int:evidence_id>/", on_a(each())),
    Row(r"workflows/cases/<int:case_id>/supervision/", on_a(each())),
    Row(r"workflows/cycles/<int:cycle_id>/", on_a(each())),
    Row(r"api/v1/(cases|tasks)/<int:pk>/", on_a(each())),
    Row(
        r"workflows/cases/<int:case_id>/comment/",
        on_a(each(DONE, auditor=DENIED)),
        method="post",
        data={"text": f"{SENTINEL} noted."},
    ),
    Row(
        r"workflows/urge/<str:target>/<int:pk>/",
        on_a(each(DENIED, coordinator=DONE, leader=DONE), each(DENIED, coordinator=DONE)),
        method="post",
        data={"note": "Soon."},
        why="A's coordinators and those above, and the case's own supervising leader, urge",
    ),
    Row(
        r"api/v1/urge/<str:target>/<int:item_id>",
        on_a(each(DENIED, coordinator=OK, leader=OK), each(DENIED, coordinator=OK)),
        method="post",
        data={"note": "Soon."},
    ),
    Row(r"workflows/tasks/<int:task_id>/reassign/", on_a(COORDINATORS)),
    Row(
        r"workflows/tasks/<int:task_id>/reassign/",
        on_a(COORDINATORS | {"coordinator": DONE}),
        method="post",
        data={"to": f"{A}.{DEPARTMENT}.head", "reason": "Cover."},
        why="A's head could do A's staff step; A's coordinators and those above reassign",
    ),
    Row(r"api/v1/tasks/<int:pk>/assignees", on_a(COORDINATORS)),
    Row(
        r"api/v1/tasks/<int:pk>/reassign",
        on_a(COORDINATORS),
        method="post",
        data={"to": f"{A}.{DEPARTMENT}.head", "reason": "Cover."},
    ),
    Row(
        r"workflows/tasks/<int:task_id>/deadline/",
        on_a(
            each(REFUSED, head=REFUSED, auditor=DENIED),
            each(REFUSED, auditor=DENIED),
        ),
        method="post",
        data={"action": "pause", "reason": "Waiting."},
        why="already paused: refused with a message to those who may see the task",
    ),
    Row(
        r"workflows/tasks/<int:task_id>/override/",
        on_a(each(REFUSED, coordinator=DONE, auditor=DENIED)),
        method="post",
        data={"reason": "The cities report separately."},
        why="coordinators of A and above let A's implementation close with cities open",
    ),
    Row(
        r"workflows/cases/<int:case_id>/cascade/",
        on_a(COORDINATORS | {"coordinator": DONE}),
        method="post",
        data={"organisations": RELATIONS["child"]},
    ),
    Row(
        r"api/v1/cases/<int:pk>/cascade",
        on_a(COORDINATORS),
        method="post",
        data={"organisations": [RELATIONS["child"]]},
    ),
    Row(
        r"workflows/cases/<int:case_id>/supervision/",
        on_a(each(REFUSED, coordinator=DONE, auditor=DENIED)),
        method="post",
        data={"action": "issue_order", "colour": "blue", "reason": "Lagging."},
    ),
    Row(
        r"workflows/cycles/<int:cycle_id>/",
        on_a(each(REFUSED, staff=DONE, auditor=DENIED), each(REFUSED, auditor=DENIED)),
        method="post",
        data={"action": "report", "percent": 50, "note": "Half way."},
        why="the lead department's staff member reports through their own step",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/claim",
        on_a(each(CONFLICT, staff=OK, auditor=DENIED), each(CONFLICT, auditor=DENIED)),
        method="post",
        why="already A's staff member's: others hear whose it is",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/(approve|return)",
        on_a(each(BAD, auditor=DENIED)),
        method="post",
        data={"reason": "Rework.", "comment": "Fine."},
        why="an implementation step is completed, not approved: a 400 to whoever sees it",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/(complete|progress)",
        on_a(each(DENIED, staff=OK), each(DENIED)),
        method="post",
        data={"percent": 40, "note": "Going."},
    ),
    Row(
        r"api/v1/tasks/<int:pk>/(extend|override-guard)",
        on_a(COORDINATORS),
        method="post",
        data={"reason": "Cover."},
        why="new_date is filled in: sixty days ahead",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/pause",
        on_a(PAUSE_ROLES, each(DENIED, coordinator=BAD)),
        method="post",
        data={"reason": "Waiting."},
    ),
    Row(
        r"api/v1/tasks/<int:pk>/resume",
        on_a(each(DENIED, head=OK, coordinator=OK), each(DENIED, coordinator=OK)),
        method="post",
        data={"reason": "Going again."},
    ),
    # --- the supervision layer's API (issue 19): reads on A's objects, then each action
    Row(r"api/v1/(cycles|appraisal)/", anywhere()),
    Row(r"api/v1/appraisal/scores", anywhere()),
    Row(r"api/v1/ledger\.(xlsx|docx)", anywhere(), why="the user's own federation's ledger"),
    Row(r"api/v1/appraisal/(scores)?", on_a(each()), query={"organisation": A}),
    Row(r"api/v1/ledger\.(xlsx|docx)", on_a(each()), query={"organisation": A, "below": "1"}),
    Row(
        r"api/v1/cases/<int:case_id>/(extension-requests|orders|instructions|lights)",
        on_a(each()),
    ),
    Row(r"api/v1/cycles/<int:cycle_id>/(consolidation)?", on_a(each())),
    Row(r"api/v1/orders/<int:order_id>/history", on_a(each())),
    Row(
        r"api/v1/cycles/<int:cycle_id>/inputs",
        on_a(each(DENIED)),
        method="post",
        data={"text": f"{SENTINEL} input."},
        why="only the measure's partner departments give input; none of these is one",
    ),
    Row(
        r"api/v1/cycles/<int:cycle_id>/report",
        on_a(each(DENIED, staff=OK), each(DENIED)),
        method="post",
        data={"percent": 50, "note": "Half way."},
        why="the lead department's staff member reports through their own step",
    ),
    Row(
        r"api/v1/cases/<int:case_id>/extension-requests",
        on_a(each(DENIED, staff=BAD, head=BAD), each(DENIED)),
        method="post",
        data={"percent": 30, "reason": "More time."},
        why="A's lead department may ask, but one request is already pending: a 400",
    ),
    Row(
        r"api/v1/extension-requests/<int:request_id>/decide",
        on_a(each(DENIED, head=OK), each(DENIED)),
        method="post",
        data={"decision": "approve"},
        why="the lead department's head decides first; the asker never decides",
    ),
    Row(
        r"api/v1/extension-requests/<int:request_id>/withdraw",
        on_a(each(DENIED, staff=OK), each(DENIED)),
        method="post",
        why="only the person who asked",
    ),
    Row(
        r"api/v1/cases/<int:case_id>/orders",
        on_a(COORDINATORS),
        method="post",
        data={"colour": "blue", "reason": "Lagging."},
    ),
    Row(
        r"api/v1/orders/<int:order_id>/answer",
        on_a(each(DENIED, staff=OK, head=OK), each(DENIED)),
        method="post",
        data={"text": "Training resumed."},
    ),
    Row(
        r"api/v1/cases/<int:case_id>/instructions",
        on_a(each(DENIED, leader=OK)),
        method="post",
        data={"text": "Report by Friday."},
        why="leaders who see the case write instructions on it",
    ),
    Row(
        r"api/v1/instructions/<int:instruction_id>/reply",
        on_a(each(DENIED, staff=OK, head=OK), each(DENIED)),
        method="post",
        data={"text": "Figures attached."},
    ),
    # --- A's reports: a finished case's completion report, and A's programme report
    Row(r"workflows/reports/<int:report_id>/(status|download)/", on_a(each()), target="completion"),
    Row(r"api/v1/reports/<int:pk>/", on_a(each()), target="completion"),
    Row(
        r"workflows/reports/<int:report_id>/(status|download)/",
        on_a(each(OK, staff=DENIED, head=DENIED)),
        target="programme",
        why="programme reports: coordinators, auditors and leaders of A and above",
    ),
    Row(
        r"api/v1/reports/<int:pk>/",
        on_a(each(OK, staff=DENIED, head=DENIED)),
        target="programme",
    ),
    Row(
        r"workflows/reports/<int:report_id>/regenerate/",
        on_a(COORDINATORS | {"coordinator": DONE}),
        method="post",
        target="completion",
    ),
    # --- viewflow's engine pages (A's case and tasks where they take one)
    Row(r"engine/", ENGINE_FORWARD, why="forwards those the engine admits, refuses the rest"),
    Row(r"engine/measure/", ENGINE_VIEW),
    Row(r"engine/measure/(inbox|queue|archive|flows|tasks|chart)/", ENGINE_VIEW),
    Row(r"engine/measure/(queue/assign|inbox/unassign)/", ENGINE_FORWARD),
    Row(r"engine/measure/<int:process_pk>/(chart/)?", ENGINE_VIEW),
    Row(r"engine/measure/<int:process_pk>/cancel/", anywhere(DENIED)),
    Row(r"engine/measure/<int:process_pk>/\w+/<int:task_pk>/", ENGINE_FORWARD),
    Row(r"engine/measure/<int:process_pk>/\w+/<int:task_pk>/detail/", ENGINE_VIEW),
    Row(
        r"engine/measure/<int:process_pk>/\w+/<int:task_pk>/"
        r"(revive|undo|cancel|assign|unassign|execute)/",
        anywhere(DENIED),
    ),
    # --- Django admin: none of these twenty people is staff
    Row(r"admin/login/", anywhere()),
    Row(r"admin/logout/", anywhere(REDIRECT), method="post"),
    Row(r"admin/(?!login/|logout/).*", anywhere(ADMIN)),
]


def rows_for(route: str) -> list[Row]:
    """Every row matching the route: each is one probe of it."""
    return [row for row in TABLE if re.fullmatch(row.route, _route_text(route))]


def matrix_size() -> tuple[int, int, int]:
    return len(list(all_routes())), len(ROLES), len(RELATIONS)


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    case: Case  # A's 2.2 at its implementation step, with one of every supervision record
    implementation: WorkItem  # claimed by A's staff member, paused by A's coordinator
    evidence: Evidence
    cycle: FeedbackCycle
    finished: Case  # A's 2.4, walked to its end
    reports: dict  # "completion" (2.4's), "programme" (A's own)
    department: int  # A's network_work


def _rendered(report: Report) -> Report:
    report = generate.report_render(report_id=report.pk)
    assert report is not None and report.status == "ready", report and report.error
    return report


def build_world() -> World:
    call_command("load_catalogue", verbosity=0)
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    users = get_user_model().objects
    auditors = Group.objects.get(name=roles.AUDITORS)
    for relation, code in RELATIONS.items():
        if relation != "parent":  # the demo seeds a national auditor only
            auditor = users.create_user(f"{code}.auditor", email=f"{code}.auditor@example.org")
            auditor.groups.add(auditors)
            Profile.objects.create(user=auditor, organisation=Organisation.objects.get(code=code))
    province = Organisation.objects.get(code=A)
    coordinator = users.get(username=f"{A}.coordinator")
    staff = users.get(username=f"{A}.{DEPARTMENT}.staff")

    def launched(code: str) -> Case:
        measure = Measure.objects.get(code=code)
        return cases_launch.case_launch(measure=measure, by=coordinator, organisation=province)[0]

    case = launched("2.2")
    draft = services.task_claim(item=open_item_of(case), user=staff)
    evidence = cases_evidence.evidence_add(
        case=case,
        item=draft,
        user=staff,
        upload=SimpleUploadedFile(f"{SENTINEL}-plan.pdf", b"%PDF-1.4 plan", "application/pdf"),
    )
    services.task_complete(item=draft, user=staff, note=f"{SENTINEL} plan.")
    services.comment_add(case=case, user=staff, text=f"{SENTINEL} submitted.")
    implementation = walk_by_services(case, until_kind="implement")
    services.progress_report(item=implementation, user=staff, percent=30, note=f"{SENTINEL} 30%")
    now = timezone.now()
    supervision_cycles.feedback_cycles_open(now=now)
    cycle = FeedbackCycle.objects.get(case=case, status="open")
    supervision_cycles.partner_input_add(
        cycle=cycle, user=users.get(username=f"{A}.grassroots_work.staff"), text=f"{SENTINEL} in"
    )
    extensions.extension_request(
        item=implementation,
        user=staff,
        reason=f"{SENTINEL} waiting on the partners.",
        new_date=local_date(implementation.due_at) + dt.timedelta(days=30),
        percent=30,
    )
    orders.order_issue(case=case, by=coordinator, reason=f"{SENTINEL} lagging.")
    instructions.instruction_issue(
        case=case, leader=users.get(username=f"{A}.{LEADER}"), text=f"{SENTINEL} report by Friday."
    )
    deadlines.task_pause(item=implementation, by=coordinator, reason=f"{SENTINEL} waiting.")
    ScoreEntry.objects.create(
        period=local_date(now).replace(day=1),
        department=case.lead_department,
        kind=ScoreKind.ON_TIME,
        points=1,
        rule_points=1,
        case=case,
        work_item=implementation,
        note=f"{SENTINEL} on time.",
    )
    finished = launched("2.4")
    walk_by_services(finished)
    completion = _rendered(Report.objects.get(case=finished, kind="completion"))
    programme = _rendered(reports_services.report_request_programme(by=coordinator))
    assert programme.organisation == province
    return World(
        case=case,
        implementation=WorkItem.objects.get(pk=implementation.pk),
        evidence=evidence,
        cycle=cycle,
        finished=finished,
        reports={"completion": completion, "programme": programme},
        department=case.lead_department_id,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module inside a transaction rolled back at the end; each request of
    the matrix runs in a savepoint of its own, so a post that succeeds changes nothing after."""
    media = str(tmp_path_factory.mktemp("media"))
    with override_settings(MEDIA_ROOT=media), django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def _engine_task(world: World, node: str) -> tuple[int, int]:
    for case in (world.finished, world.case):
        for task in Task.objects.filter(process=case).order_by("pk"):
            if task.flow_task.name == node:
                return case.pk, task.pk
    raise AssertionError(f"A has no task of node {node!r}")


def _saved_view_id(owner: str) -> int:
    """One saved view of A's staff member's inbox: only they may delete it."""
    view, _created = SavedView.objects.get_or_create(
        user=get_user_model().objects.get(username=owner),
        page="inbox",
        name="Overdue",
        defaults={"querystring": "overdue=1"},
    )
    return view.pk


def _cascade_job_id(case: Case) -> int:
    """A cascade job of A's case (as a request to cascade to many federations leaves)."""
    job, _created = CascadeJob.objects.get_or_create(
        case=case, defaults={"level": "prefectural", "targets": [RELATIONS["child"]], "total": 1}
    )
    return job.pk


def fill(route: str, pattern, row: Row, world: World) -> dict:
    """A's ids for the route's parameters (placeholders for the admin: nobody gets that far)."""
    names = set(pattern.pattern.regex.groupindex)
    text = _route_text(route)
    if text.startswith("admin/"):
        values = {"app_label": "workflows", "url": "no-such-page/"}
        return {name: values.get(name, 1) for name in names}
    if text.startswith("engine/") and "task_pk" in names:
        process, task = _engine_task(world, text.split("/")[3])
        return {"process_pk": process, "task_pk": task}
    report = world.reports.get(row.target)
    values = {
        "case_id": world.case.pk,
        "process_pk": world.case.pk,
        "task_id": world.implementation.pk,
        "evidence_id": world.evidence.pk,
        "report_id": report.pk if report else None,
        "cycle_id": world.cycle.pk,
        "view_id": _saved_view_id(username("staff", "same")),
        "department_id": world.department,
        "request_id": world.case.extension_requests.values_list("pk", flat=True).first(),
        "order_id": world.case.supervision_orders.values_list("pk", flat=True).first(),
        "instruction_id": world.case.instructions.values_list("pk", flat=True).first(),
        "job_id": _cascade_job_id(world.case),
        "fmt": row.target,
        "uidb64": "MQ",
        "token": "not-a-real-token",
    }
    if "target" in names:  # urging: A's implementation task
        key = "pk" if "pk" in names else "item_id"
        return {"target": "task", key: world.implementation.pk}
    if "pk" in names:
        if text.startswith("api/v1/reports"):
            return {"pk": report.pk}
        if text.startswith("api/v1/cascade-jobs"):
            return {"pk": _cascade_job_id(world.case)}
        return {"pk": world.case.pk if text.startswith("api/v1/cases") else world.implementation.pk}
    return {name: values[name] for name in names}


# --------------------------------------------------------------------------- judging


def outcome(response) -> str:
    return BAD if response.status_code == 400 else outcome_of(response)


def text_of(response) -> str:
    """What a person reads in the answer: the page, the JSON, the CSV, the workbook's or the
    document's XML, or the PDF's text (when pdftotext is installed)."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return " ".join(
                archive.read(name).decode("utf-8", "replace")
                for name in archive.namelist()
                if name.endswith(".xml")
            )
    if body.startswith(b"%PDF"):
        if shutil.which("pdftotext") is None:
            return ""
        done = subprocess.run(
            ["pdftotext", "-", "-"], input=body, capture_output=True, check=True, timeout=60
        )
        return done.stdout.decode("utf-8", "replace")
    return body.decode("utf-8", "replace")


def request(client: Client, url: str, row: Row, world: World):
    if row.method == "get":
        return client.get(url, row.query)
    data = dict(row.data)
    if url.endswith("/extension-requests"):
        data["new_date"] = (local_date(world.implementation.due_at) + dt.timedelta(60)).isoformat()
    if url.endswith("/extend"):
        data["new_date"] = (local_date(world.implementation.due_at) + dt.timedelta(60)).isoformat()
    if url.startswith("/api/"):
        return client.post(url, data, content_type="application/json")
    return client.post(url, data)


def run_matrix(world: World, relations) -> tuple[list[str], int]:
    """Every probe as every role of the given relations; returns the mismatches and count."""
    sessions = {}
    for relation in relations:
        for role in ROLES:
            client = Client()
            client.force_login(get_user_model().objects.get(username=username(role, relation)))
            sessions[role, relation] = client.cookies
    mismatches, probes = [], 0
    for route, pattern in all_routes():
        for row in rows_for(route):
            url = _path(route, pattern, fill(route, pattern, row, world))
            for (role, relation), cookies in sessions.items():
                # A fresh client on the session each time: a logout must not end the others.
                client = Client(raise_request_exception=False)
                client.cookies = type(cookies)(cookies)
                with transaction.atomic():
                    response = request(client, url, row, world)
                    got = outcome(response)
                    marks = []
                    if relation in ("child", "sibling") and response.status_code == 200:
                        body = text_of(response)
                        marks = [mark for mark in A_MARKS if mark in body]
                    transaction.set_rollback(True)
                probes += 1
                want = row.expected[relation][role]
                shown = f"{row.method.upper()} {url} {row.query or ''} as {role} of {relation}"
                if got != want:
                    mismatches.append(f"{shown}: {got}, want {want}")
                if marks:
                    mismatches.append(f"{shown}: shows A's {marks}")
    return mismatches, probes


# --------------------------------------------------------------------------- the tests


def test_every_route_is_classified():
    unclassified = sorted({route for route, _ in all_routes() if not rows_for(route)})
    assert unclassified == [], "add rows to TABLE for these routes:\n" + "\n".join(unclassified)


def test_every_row_of_the_table_still_matches_a_route():
    routes = [_route_text(route) for route, _ in all_routes()]
    stale = [row.route for row in TABLE if not any(re.fullmatch(row.route, r) for r in routes)]
    assert stale == []


def test_the_table_gives_every_role_of_every_relation_and_never_opens_a_to_below_or_beside():
    for row in TABLE:
        assert set(row.expected) == set(RELATIONS), row.route
        assert all(set(cells) == set(ROLES) for cells in row.expected.values()), row.route
        ids = set(re.findall(r"<(?:\w+:)?(\w+)>", row.route)) - {"fmt", "uidb64", "token"}
        named = row.route.startswith("workflows/") and row.query.get("organisation") == A
        if (ids or named) and not row.route.startswith("admin/"):
            assert row.about_a, f"{row.route} is on A's objects: child and sibling DENIED"


def test_the_matrix_size(capsys):
    routes, roles_, relations = matrix_size()
    with capsys.disabled():
        print(
            f"\nboundary matrix: {routes} routes x {roles_} roles x {relations} relations"
            f" = {routes * roles_ * relations} cells"
        )
    assert routes * roles_ * relations >= 300 * 5 * 4


@pytest.mark.django_db
def test_a_marks_are_found_where_a_is_seen(world):
    """The search for A's marks reads each kind of answer: a page, JSON, a workbook, a PDF."""
    client = Client()
    client.force_login(get_user_model().objects.get(username=username("coordinator", "same")))
    answers = [
        client.get(f"/workflows/cases/{world.case.pk}/"),
        client.get("/api/v1/cases/"),
        client.get("/workflows/ledger.xlsx", {"organisation": A}),
        client.get("/workflows/ledger.docx", {"organisation": A}),
    ]
    if shutil.which("pdftotext"):
        answers.append(client.get("/workflows/appraisal/bulletin.pdf", {"organisation": A}))
    for response in answers:
        assert response.status_code == 200
        assert any(mark in text_of(response) for mark in A_MARKS), response.request["PATH_INFO"]


@pytest.mark.django_db
@pytest.mark.parametrize("relation", list(RELATIONS))
def test_every_route_as_every_role_of_each_relation(world, relation):
    mismatches, probes = run_matrix(world, [relation])
    assert probes >= len(list(all_routes())) * len(ROLES)
    assert mismatches == [], "\n".join(mismatches)
