"""Every URL pattern in the project, requested as every role, against a table of expectations.

The table (`EXPECTED`) is data: each row matches route patterns (a regular expression over
the full route, as `django.urls.get_resolver` builds it), names the method and body, and
says what each role gets. A pattern no row matches fails `test_every_url_pattern_is_classified`,
so a new route cannot ship unclassified: add a row for it.

Outcomes:
  OK        200 (201 for a creation, 202 for work queued, e.g. a report): allowed.
  DONE      302 back to a page with no error message: an allowed form post (post/redirect/get).
  REFUSED   302 back to the page with an error message, or a form post answered by the page
            re-rendered (200) with an error message: the pages' way of refusing an action
            the visitor may see but not do (services raise, the view shows the reason).
  DENIED    403 or 404: not allowed, or a case the visitor cannot see (404 hides that it exists).
  LOGIN     302 to the login page (pages) for anonymous visitors.
  ADMIN     302 to the admin login page: Django admin for anyone not staff.
  API_ANON  401 or 403 "Authentication credentials were not provided." (API, anonymous).
  REDIRECT  302 somewhere else: an index that forwards, logout, the language switch.
  CONFLICT  409: the task is already someone else's (the API's claim says whose).

Rows are tried in order and the first that matches a route decides, so specific rows come
before the general ones of their family.

viewflow's engine pages answer anonymous visitors 403 instead of sending them to log in
(viewflow checks its own permission first); they show nothing, so the table records that.
"""

import datetime as dt
import re
import sys
from dataclasses import dataclass, field

import pytest
from django.contrib import messages as django_messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token
from viewflow.workflow.models import Task

from tests.conftest import DEMO_PASSWORD
from workflows.cases import evidence as cases_evidence
from workflows.cases import launch as cases_launch
from workflows.cases import services
from workflows.common.calendar import local_date
from workflows.deadlines import due_dates as deadlines
from workflows.demo.accounts import demo_seed
from workflows.models import (
    Axis,
    CalendarDay,
    Case,
    ChannelSettings,
    Escalation,
    Evidence,
    FeedbackCycle,
    Light,
    LightChange,
    Measure,
    Organisation,
    OrganisationLevel,
    Report,
    ReportSchedule,
    ScoreEntry,
    ScoreKind,
    SweepFault,
    WorkItem,
)
from workflows.organisations.services import organisation_create
from workflows.reports import generate
from workflows.reports import services as reports_services
from workflows.supervision import cycles as supervision_cycles
from workflows.supervision import extensions, instructions
from workflows.supervision import orders as supervision_orders

OK, DONE, REFUSED, DENIED, LOGIN, ADMIN, API_ANON, REDIRECT, CONFLICT = (
    "OK DONE REFUSED DENIED LOGIN ADMIN API_ANON REDIRECT CONFLICT".split()
)

# Who plays each role. The leader supervises other measures than the world's cases, so the
# table also shows what someone outside a case gets.
ROLES = {
    "anonymous": None,
    "staff": "network_work.staff",
    "head": "network_work.head",
    "leader": "secretary_organisation",
    "coordinator": "coordinator.office",
    "auditor": "auditor",
    "admin": "admin",
}
SIGNED_IN = [role for role in ROLES if role != "anonymous"]
# A due date an extension may ask for: later than any open task's, within the date horizon.
FAR_DATE = (dt.date.today() + dt.timedelta(days=700)).isoformat()
# The provincial federation the world adds below the national one (somewhere to cascade to).
CHILD_ORGANISATION = "beijing"


def everyone(outcome):
    return dict.fromkeys(ROLES, outcome)


def pages(**outcomes):
    """A login-protected page: anonymous visitors go to the login page."""
    return {"anonymous": LOGIN, **dict.fromkeys(SIGNED_IN, OK), **outcomes}


def api(**outcomes):
    return {"anonymous": API_ANON, **dict.fromkeys(SIGNED_IN, OK), **outcomes}


def api_only(**allowed):
    """An API action everyone signed in is refused but those given."""
    return api(**{**dict.fromkeys(SIGNED_IN, DENIED), **allowed})


def admin_only(admin_outcome=OK):
    return {**dict.fromkeys(ROLES, ADMIN), "admin": admin_outcome}


# Roles that see the world's case (network_work's measure 2.2): all but the outside leader.
CASE_VIEWERS = pages(leader=DENIED)
# Coordinators and auditors (and the superuser, a coordinator) see viewflow's engine pages.
ENGINE_VIEW = pages(anonymous=DENIED, staff=DENIED, head=DENIED, leader=DENIED)
ENGINE_FORWARD = ENGINE_VIEW | dict.fromkeys(("coordinator", "auditor", "admin"), REDIRECT)
ENGINE_CLOSED = everyone(DENIED)
# The audit desk, the notification log and the programme exports: auditors and coordinators
# (the superuser is a coordinator); everyone else signed in gets 403.
DESK = pages(staff=DENIED, head=DENIED, leader=DENIED)
# Those who read every report (coordinators, auditors, leaders); staff and heads see only the
# completion reports of their own cases, so the world's programme report is a 404 to them.
ALL_REPORTS = pages(staff=DENIED, head=DENIED)
# A form post only coordinators (and the superuser) may make; a case viewer who may not is
# refused with a message, and auditors are stopped by AuditorsReadOnlyMiddleware (403).
COORDINATOR_POST_REFUSED = pages(
    staff=REFUSED, head=REFUSED, leader=DENIED, coordinator=DONE, auditor=DENIED, admin=DONE
)


@dataclass(frozen=True)
class Row:
    route: str  # regular expression matched against the whole route
    expected: dict[str, str]
    method: str = "get"
    data: dict = field(default_factory=dict)
    why: str = ""


EXPECTED: list[Row] = [
    # --- public
    Row(r"healthz", everyone(OK)),
    Row(r"api/schema/", everyone(OK), why="the schema describes endpoints, holds no data"),
    Row(r"accounts/login/", everyone(OK)),
    Row(r"accounts/logout/", everyone(REDIRECT), method="post"),
    Row(r"accounts/password_reset/(done/)?", everyone(OK)),
    Row(r"accounts/reset/<uidb64>/<token>/", everyone(OK), why="an invalid link page"),
    Row(r"accounts/reset/done/", everyone(OK)),
    Row(r"accounts/password_change/(done/)?", pages()),
    Row(r"i18n/setlang/", everyone(REDIRECT), method="post", data={"language": "zh-hans"}),
    # --- Reformflow's pages
    Row(r"", everyone(REDIRECT), why="the site root forwards to /workflows/"),
    Row(r"workflows/((dashboard|my-work|inbox|queue|archive)/)?", pages()),
    Row(r"workflows/search/", pages(), why="finds only within the user's reach"),
    Row(r"workflows/dashboard/(cases|wall)/", pages(), why="figures and cases in own reach"),
    Row(r"workflows/me/substitute/", pages(), why="one's own substitute"),
    Row(r"workflows/me/calendar/", pages(), why="one's own calendar address"),
    Row(
        r"workflows/me/calendar/",
        pages(staff=DONE, head=DONE, leader=DONE, coordinator=DONE, auditor=DENIED, admin=DONE),
        method="post",
        data={"action": "revoke"},
        why="revokes one's own address; auditors' posts stop at AuditorsReadOnlyMiddleware",
    ),
    Row(r"calendar/<str:token>\.ics", everyone(DENIED), why="an unknown token: 404, no login"),
    Row(
        r"workflows/launch/",
        pages(staff=DENIED, head=DENIED, leader=DENIED, auditor=DENIED),
    ),
    Row(r"workflows/cases/<int:case_id>/", CASE_VIEWERS),
    Row(r"workflows/cascade-jobs/<int:job_id>/", CASE_VIEWERS, why="2.2's cascade job"),
    Row(r"workflows/tasks/<int:task_id>/", CASE_VIEWERS),
    Row(r"workflows/evidence/<int:evidence_id>/", CASE_VIEWERS),
    Row(
        r"workflows/cases/<int:case_id>/comment/",
        pages(staff=DONE, head=DONE, leader=DENIED, coordinator=DONE, auditor=DENIED, admin=DONE),
        method="post",
        data={"text": "A comment."},
        why="AuditorsReadOnlyMiddleware answers an auditor's post 403 before the view runs",
    ),
    Row(
        r"workflows/urge/<str:target>/<int:pk>/",
        pages(
            staff=DENIED, head=DENIED, leader=DENIED, coordinator=DONE, auditor=DENIED, admin=DONE
        ),
        method="post",
        data={"note": "Soon."},
        why="coordinators of the case's federation and its supervising leader urge",
    ),
    Row(
        r"api/v1/urge/<str:target>/<int:item_id>",
        api(staff=DENIED, head=DENIED, leader=DENIED, auditor=DENIED),
        method="post",
        data={"note": "Soon."},
    ),
    Row(
        r"workflows/tasks/<int:task_id>/reassign/",
        pages(staff=DENIED, head=DENIED, leader=DENIED, auditor=DENIED),
        why="the picker: coordinators of the case's federation (or above) only",
    ),
    Row(
        r"workflows/tasks/<int:task_id>/reassign/",
        pages(
            staff=DENIED, head=DENIED, leader=DENIED, coordinator=DONE, auditor=DENIED, admin=DONE
        ),
        method="post",
        data={"to": "network_work.head", "reason": "Cover."},
    ),
    Row(
        r"workflows/tasks/<int:task_id>/deadline/",
        pages(
            staff=REFUSED, head=DONE, leader=DENIED, coordinator=DONE, auditor=DENIED, admin=DONE
        ),
        method="post",
        data={"action": "pause", "reason": "Waiting on a decision."},
        why="coordinators and the head of the case's lead department pause a task's clock",
    ),
    Row(
        r"workflows/tasks/<int:task_id>/override/",
        COORDINATOR_POST_REFUSED,
        method="post",
        data={"reason": "The provinces report separately."},
        why="on 2.3's implementation step: coordinators let it close with child cases open",
    ),
    Row(
        r"workflows/cases/<int:case_id>/cascade/",
        pages(
            staff=DENIED, head=DENIED, leader=DENIED, coordinator=DONE, auditor=DENIED, admin=DONE
        ),
        method="post",
        data={"organisations": CHILD_ORGANISATION},
        why="the cascade form exists only for coordinators of the case's subtree: others 403",
    ),
    # --- supervision
    Row(r"workflows/cases/<int:case_id>/supervision/", CASE_VIEWERS),
    Row(
        r"workflows/cases/<int:case_id>/supervision/",
        COORDINATOR_POST_REFUSED,
        method="post",
        data={"action": "issue_order", "colour": "blue", "reason": "Lagging."},
        why="supervision orders are issued by coordinators",
    ),
    Row(r"workflows/cycles/<int:cycle_id>/", CASE_VIEWERS, why="2.3's feedback cycle"),
    Row(
        r"workflows/cycles/<int:cycle_id>/",
        pages(
            staff=DONE,
            head=REFUSED,
            leader=DENIED,
            coordinator=REFUSED,
            auditor=DENIED,
            admin=REFUSED,
        ),
        method="post",
        data={"action": "report", "percent": 50, "note": "Half way."},
        why="the lead department reports through its implementation step, which is the staff"
        " member's: the head may not act on it, coordinators are not the lead department",
    ),
    Row(r"workflows/appraisal/(departments/<int:department_id>/|bulletin\.pdf)?", pages()),
    Row(
        r"workflows/appraisal/",
        pages(
            staff=DENIED, head=DENIED, leader=DENIED, coordinator=DONE, auditor=DENIED, admin=DONE
        ),
        method="post",
        why="coordinators recompute the month's appraisal",
    ),
    Row(r"workflows/ledger\.<str:fmt>", pages(), why="the ledger lists the cases one may see"),
    # --- notifications
    Row(r"workflows/notifications/", DESK),
    Row(
        r"workflows/views/save/",
        pages(staff=DONE, head=DONE, leader=DONE, coordinator=DONE, auditor=DONE, admin=DONE),
        method="post",
        data={"page": "inbox", "name": "Mine", "querystring": "sort=measure"},
        why="one's own saved view of one's own list (the list applies reach when replayed)",
    ),
    Row(
        r"workflows/views/<int:view_id>/delete/",
        pages(head=DENIED, leader=DENIED, coordinator=DENIED, auditor=DENIED, admin=DENIED)
        | {"staff": DONE},
        method="post",
        why="only its owner deletes a saved view; anyone else gets a 404",
    ),
    Row(r"workflows/me/notifications/", pages()),
    Row(
        r"workflows/me/notifications/",
        pages(staff=DONE, head=DONE, leader=DONE, coordinator=DONE, auditor=DONE, admin=DONE),
        method="post",
        data={"notification_mode": "digest"},
        why="one's own mail preference, not case data: auditors too (and it is audited)",
    ),
    # --- the audit desk
    Row(r"workflows/desk/(audit/|audit\.csv|programme\.csv|programme\.xlsx)", DESK),
    Row(
        r"workflows/desk/audit/verify/",
        DESK | dict.fromkeys(("coordinator", "auditor", "admin"), DONE),
        method="post",
        why="verifying reads the chain and records the run: auditors may",
    ),
    # --- reports
    Row(r"workflows/reports/", pages()),
    Row(
        r"workflows/reports/request/",
        pages(staff=DENIED, head=DENIED, leader=DONE, coordinator=DONE, auditor=DONE, admin=DONE),
        method="post",
        data={"aspect": ""},
        why="a programme report: those who read all reports, auditors included, may ask for one",
    ),
    Row(r"workflows/reports/<int:report_id>/(status|download)/", ALL_REPORTS),
    Row(
        r"workflows/reports/<int:report_id>/regenerate/",
        pages(
            staff=DENIED, head=DENIED, leader=DENIED, coordinator=DONE, auditor=DENIED, admin=DONE
        ),
        method="post",
        why="a new version of 2.4's completion report: coordinators only",
    ),
    # --- the API
    Row(r"api/v1/(measures|cases|tasks|me/work)/", api()),
    Row(r"api/v1/search/", api()),
    Row(
        r"api/v1/cases/",
        api(staff=DENIED, head=DENIED, leader=DENIED, auditor=DENIED),
        method="post",
        data={"measure": "2.5"},
    ),
    Row(r"api/v1/(cases|tasks)/<int:pk>/", api(leader=DENIED)),
    Row(r"api/v1/cascade-jobs/<int:pk>", api(leader=DENIED), why="2.2's cascade job"),
    Row(
        r"api/v1/tasks/<int:pk>/claim",
        api(staff=CONFLICT, leader=DENIED, coordinator=CONFLICT, auditor=DENIED, admin=CONFLICT),
        method="post",
        why="the approval is already assigned to the head: others hear whose it is (409);"
        " auditors are refused (403) before the view runs",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/(approve|return)",
        api(staff=DENIED, leader=DENIED, coordinator=DENIED, auditor=DENIED, admin=DENIED),
        method="post",
        data={"reason": "Rework.", "comment": "Fine."},
        why="the approval waits for the head; the staff member submitted it",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/(complete|progress)",
        api(head=DENIED, leader=DENIED, coordinator=DENIED, auditor=DENIED, admin=DENIED),
        method="post",
        data={"percent": 40, "note": "Going."},
        why="an implementation step of the staff member's department",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/reassign",
        api(staff=DENIED, head=DENIED, leader=DENIED, auditor=DENIED),
        method="post",
        data={"to": "network_work.head", "reason": "Cover."},
    ),
    Row(
        r"api/v1/tasks/<int:pk>/assignees",
        api(staff=DENIED, head=DENIED, leader=DENIED, auditor=DENIED),
        why="who the task may go to: coordinators of the case's federation (or above) only",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/(extend|override-guard)",
        api(staff=DENIED, head=DENIED, leader=DENIED, auditor=DENIED),
        method="post",
        # Within the date horizon (workflows.common.bounds): a year and more ahead.
        data={"new_date": f"{dt.date.today().year + 2}-12-31", "reason": "Cover."},
        why="coordinators only; override-guard is tried on 2.3's implementation step",
    ),
    Row(
        r"api/v1/tasks/<int:pk>/(pause|resume)",
        api(staff=DENIED, leader=DENIED, auditor=DENIED),
        method="post",
        data={"reason": "Waiting on a decision."},
        why="coordinators and the lead department's head; resume is tried on 2.3's paused step",
    ),
    Row(
        r"api/v1/cases/<int:pk>/cascade",
        api(staff=DENIED, head=DENIED, leader=DENIED, auditor=DENIED),
        method="post",
        data={"organisations": CHILD_ORGANISATION},
    ),
    Row(r"api/v1/(notifications|audit)/", api(staff=DENIED, head=DENIED, leader=DENIED)),
    Row(r"api/v1/reports/", api()),
    Row(
        r"api/v1/reports/",
        api(staff=DENIED, head=DENIED),
        method="post",
        data={"kind": "programme"},
        why="202: queued; auditors may ask for a report (it changes no case)",
    ),
    Row(r"api/v1/reports/<int:pk>/", api(staff=DENIED, head=DENIED), why="the programme report"),
    # --- the supervision layer's API (issue 19): 2.2's case, 2.3's supervision records
    Row(r"api/v1/(cycles|appraisal)/", api()),
    Row(r"api/v1/appraisal/scores", api()),
    Row(r"api/v1/ledger\.(xlsx|docx)", api()),
    Row(
        r"api/v1/cases/<int:case_id>/(extension-requests|orders|instructions|lights)",
        api(leader=DENIED),
    ),
    Row(r"api/v1/cycles/<int:cycle_id>/(consolidation)?", api(leader=DENIED)),
    Row(r"api/v1/orders/<int:order_id>/history", api(leader=DENIED)),
    Row(
        r"api/v1/cycles/<int:cycle_id>/inputs",
        api_only(),
        method="post",
        data={"text": "Our input."},
        why="2.3's only partner is grassroots_work: none of these people",
    ),
    Row(
        r"api/v1/cycles/<int:cycle_id>/report",
        api_only(staff=OK),
        method="post",
        data={"percent": 50, "note": "Half way."},
    ),
    Row(
        r"api/v1/cases/<int:case_id>/extension-requests",
        api_only(staff=OK, head=OK),
        method="post",
        data={"new_date": FAR_DATE, "percent": 30, "reason": "More time."},
        why="the responsible department asks for its open task (2.2's head approval)",
    ),
    Row(
        r"api/v1/extension-requests/<int:request_id>/decide",
        api_only(head=OK),
        method="post",
        data={"decision": "approve"},
    ),
    Row(
        r"api/v1/extension-requests/<int:request_id>/withdraw",
        api_only(staff=OK),
        method="post",
    ),
    Row(
        r"api/v1/cases/<int:case_id>/orders",
        api_only(coordinator=OK, admin=OK),
        method="post",
        data={"colour": "blue", "reason": "Lagging."},
    ),
    Row(
        r"api/v1/orders/<int:order_id>/answer",
        api_only(staff=OK, head=OK),
        method="post",
        data={"text": "Resumed."},
    ),
    Row(
        r"api/v1/cases/<int:case_id>/instructions",
        api_only(),
        method="post",
        data={"text": "Report by Friday."},
        why="the only leader here cannot see 2.2 (404); the others are no leaders (403)",
    ),
    Row(
        r"api/v1/instructions/<int:instruction_id>/reply",
        api_only(staff=OK, head=OK),
        method="post",
        data={"text": "Figures attached."},
    ),
    # --- viewflow's engine pages
    Row(
        r"engine/",
        ENGINE_FORWARD,
        why="forwards to the flow's pages those who may open them; the menu offers it to them only",
    ),
    Row(r"engine/measure/", ENGINE_VIEW),
    Row(r"engine/measure/(inbox|queue|archive|flows|tasks|chart)/", ENGINE_VIEW),
    Row(r"engine/measure/<int:process_pk>/(chart/)?", ENGINE_VIEW),
    Row(
        r"engine/measure/(queue/assign|inbox/unassign)/",
        ENGINE_FORWARD,
        why="with no task ticked, back to the list",
    ),
    Row(
        r"engine/measure/<int:process_pk>/cancel/",
        ENGINE_CLOSED,
        why="cancel would bypass the services: has_manage_permission is False for all",
    ),
    Row(r"engine/measure/<int:process_pk>/\w+/<int:task_pk>/", ENGINE_FORWARD),
    Row(r"engine/measure/<int:process_pk>/\w+/<int:task_pk>/detail/", ENGINE_VIEW),
    Row(
        r"engine/measure/<int:process_pk>/\w+/<int:task_pk>/(revive|undo|cancel|assign|unassign)/",
        ENGINE_CLOSED,
        why="engine actions bypass the services; claiming goes through Reformflow's task page",
    ),
    Row(
        r"engine/measure/<int:process_pk>/\w+/<int:task_pk>/execute/",
        ENGINE_CLOSED,
        why="StepView: only the task's candidate may execute, and it redirects to our task page",
    ),
    # --- Django admin: staff only (the demo's only staff account is the superuser)
    Row(r"admin/login/", everyone(OK) | {"admin": REDIRECT}),
    Row(r"admin/logout/", everyone(REDIRECT), method="post"),
    Row(r"admin/(password_change/(done/)?)?", admin_only()),
    Row(r"admin/jsi18n/", admin_only()),
    Row(r"admin/autocomplete/", admin_only(DENIED), why="no model or field named"),
    Row(
        r"admin/r/<path:content_type_id>/<path:object_id>/",
        admin_only(DENIED),
        why="cases have no public URL",
    ),
    Row(
        r"admin/(axes/\w+|viewflow/(process|task)|workflows/cataloguesource)/add/",
        admin_only(DENIED),
        why="records made by the system, never added by hand",
    ),
    Row(
        r"admin/workflows/(notification|deadlinechange|escalation|feedbackcycle|lightchange"
        r"|extensionrequest|supervisionorder|leaderinstruction|scoreentry|sweepfault)"
        r"/(add/|<path:object_id>/delete/)",
        admin_only(DENIED),
        why="ReadOnlyAdmin: records the services write, shown but never added or deleted",
    ),
    Row(
        r"admin/workflows/cataloguesource/workbook/(export|import)/",
        admin_only(),
        why="the catalogue as Excel: export for staff who may view it, import for those who "
        "may change it (a form; the upload is tested in test_catalogue_xlsx)",
    ),
    Row(r"admin/\^\(\?P<app_label>[\w|]+\)/\$", admin_only()),
    Row(r"admin/\(\?P<url>\.\*\)\$", admin_only(DENIED), why="the admin's catch-all 404"),
    Row(r"admin/auth/user/<id>/password/", admin_only()),
    Row(r"admin/\w+/\w+/((add/)|(<path:object_id>/(history/|delete/|change/)))?", admin_only()),
    Row(r"admin/\w+/\w+/<path:object_id>/", admin_only(REDIRECT), why="old-style change URL"),
]


# --------------------------------------------------------------------------- the resolver


def all_routes(patterns=None, prefix=""):
    """Every route in the project as one string per pattern, resolvers walked recursively."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from all_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _route_text(route: str) -> str:
    # Admin patterns are regexes with anchors; path() routes are plain text.
    return route.removeprefix("^")


def rows_for(route: str) -> list[Row]:
    """The first row matching the route for each method (a route may have GET and POST rows)."""
    chosen: dict[str, Row] = {}
    for row in EXPECTED:
        if re.fullmatch(row.route, _route_text(route)):
            chosen.setdefault(row.method, row)
    return list(chosen.values())


def unclassified_routes() -> list[str]:
    return sorted({route for route, _ in all_routes() if not rows_for(route)})


def test_every_url_pattern_is_classified():
    unclassified = unclassified_routes()
    assert unclassified == [], "add rows to EXPECTED for these routes:\n" + "\n".join(unclassified)


def test_a_route_missing_from_the_table_is_caught(monkeypatch):
    without_healthz = [row for row in EXPECTED if row.route != "healthz"]
    monkeypatch.setattr(sys.modules[__name__], "EXPECTED", without_healthz)

    assert unclassified_routes() == ["healthz"]


def test_every_row_of_the_table_still_matches_a_route():
    routes = [_route_text(route) for route, _ in all_routes()]
    stale = [row.route for row in EXPECTED if not any(re.fullmatch(row.route, r) for r in routes)]
    assert stale == []


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    case: Case  # 2.2: draft with evidence submitted, head approval open, a comment
    approval: WorkItem
    evidence: Evidence
    implementation: WorkItem  # 2.3 at its implementation step, claimed by the staff member
    finished: Case  # 2.4 walked through every step to its completion report
    completion_report: Report  # 2.4's completion report, rendered
    programme_report: Report  # a whole-programme report, rendered (staff and heads cannot see it)
    cycle: FeedbackCycle  # 2.3's open feedback cycle


def _routed(item: WorkItem):
    from tests.casework import routed_user

    return routed_user(item)


def _walk(case: Case, *, until_kind: str | None = None) -> WorkItem | None:
    """Do each open step through the services as its routed user; stop at `until_kind`."""
    from tests.casework import open_item_of

    while WorkItem.objects.filter(case=case, status="open").exists():
        item = open_item_of(case)
        user = _routed(item)
        if item.assignee_id is None:
            item = services.task_claim(item=item, user=user)
        if item.kind == until_kind:
            return item
        if item.kind in ("submit", "implement"):
            services.task_complete(item=item, user=user, note="Done.")
        else:
            services.task_approve(item=item, user=user, comment="Fine.")
    return None


def _rendered(report: Report) -> Report:
    """Render a queued report now (the worker's job; on_commit never fires in these tests)."""
    rendered = generate.report_render(report_id=report.pk)
    assert rendered is not None and rendered.status == "ready", rendered and rendered.error
    return rendered


def _supervised(implementation: WorkItem, coordinator) -> FeedbackCycle:
    """Give 2.3 one of each supervision and deadline record (and the calendar an override),
    so every admin change page has a row to open. Returns 2.3's open feedback cycle.

    All on 2.3, so the world's case 2.2 stays as the table's rows expect it.
    """
    case = implementation.case
    now = timezone.now()
    supervision_cycles.feedback_cycles_open(now=now)
    extensions.extension_request(
        item=implementation,
        user=implementation.assignee,
        reason="Waiting on the partners.",
        new_date=local_date(implementation.due_at) + dt.timedelta(days=30),
        percent=40,
    )
    supervision_orders.order_issue(
        case=case, by=coordinator, reason="Lagging."
    )  # also notifications
    instructions.instruction_issue(
        case=case, leader=case.supervising_leader.holder, text="Report by Friday."
    )
    # Paused, so the API's resume has a paused task (and DeadlineChange a row).
    deadlines.task_pause(item=implementation, by=coordinator, reason="Waiting on a decision.")
    Escalation.objects.create(
        case=case,
        work_item=implementation,
        rung=1,
        due_at=implementation.due_at,
        fired_at=now,
    )
    LightChange.objects.create(
        case=case, axis=Axis.PROGRESS, from_light=Light.GREEN, to_light=Light.YELLOW, at=now
    )
    SweepFault.objects.create(
        part="lights", case=case, error="OverflowError: a poisoned row", first_at=now, last_at=now
    )
    ScoreEntry.objects.create(
        period=local_date(now).replace(day=1),
        department=case.lead_department,
        kind=ScoreKind.ON_TIME,
        points=1,
        rule_points=1,
        case=case,
        work_item=implementation,
    )
    CalendarDay.objects.create(date=dt.date(2030, 10, 1), kind="holiday", name="National Day")
    ChannelSettings.objects.create(channels=["email"])  # the default notification channels
    ReportSchedule.objects.create(organisation=Organisation.national())  # a report schedule
    return FeedbackCycle.objects.get(case=case, status="open")


def build_world(tmp_path) -> World:
    from tests.casework import open_item_of

    call_command("load_catalogue", verbosity=0)
    demo_seed(password=DEMO_PASSWORD)
    # One federation below the national one, so a coordinator has somewhere to cascade to.
    organisation_create(
        code=CHILD_ORGANISATION,
        title_en="Beijing Federation of Trade Unions",
        level=OrganisationLevel.objects.get(key="provincial"),
        parent=Organisation.national(),
    )
    users = get_user_model().objects
    coordinator = users.get(username="coordinator.office")
    staff = users.get(username="network_work.staff")

    def launched(code):
        return cases_launch.case_launch(measure=Measure.objects.get(code=code), by=coordinator)[0]

    case = launched("2.2")
    draft = services.task_claim(item=open_item_of(case), user=staff)
    evidence = cases_evidence.evidence_add(
        case=case,
        item=draft,
        user=staff,
        upload=SimpleUploadedFile("plan.pdf", b"%PDF-1.4 plan", "application/pdf"),
    )
    services.task_complete(item=draft, user=staff, note="The plan.")
    services.comment_add(case=case, user=staff, text="Submitted.")
    Token.objects.create(user=staff)
    # One failed and one good login through the page, so django-axes' admin lists have rows.
    Client().post("/accounts/login/", {"username": "auditor", "password": DEMO_PASSWORD})
    Client().post("/accounts/login/", {"username": "auditor", "password": "wrong"})
    implementation = _walk(launched("2.3"), until_kind="implement")
    cycle = _supervised(implementation, coordinator)
    finished = launched("2.4")
    _walk(finished)
    # The walk queued the completion report; rendering it also runs the flow's
    # completion-report node, so 2.4's process reaches its end.
    completion_report = _rendered(Report.objects.get(case=finished, kind="completion"))
    programme_report = _rendered(reports_services.report_request_programme(by=coordinator))
    return World(
        case=case,
        approval=open_item_of(case),
        evidence=evidence,
        implementation=WorkItem.objects.get(pk=implementation.pk),
        finished=finished,
        completion_report=completion_report,
        programme_report=programme_report,
        cycle=cycle,
    )


def _engine_task(world: World, node: str) -> tuple[int, int]:
    """A (process, task) pair whose task belongs to `node`, from the finished case if it can."""
    for case in (world.finished, world.case):
        for task in Task.objects.filter(process=case).order_by("pk"):
            if task.flow_task.name == node:
                return case.pk, task.pk
    raise AssertionError(f"the world has no task of node {node!r}")


def _saved_view_id(username: str) -> int:
    """One saved view of the staff member's inbox (only they may delete it)."""
    from workflows.models import SavedView

    view, _created = SavedView.objects.get_or_create(
        user=get_user_model().objects.get(username=username),
        page="inbox",
        name="Overdue",
        defaults={"querystring": "overdue=1"},
    )
    return view.pk


def _cascade_job_id(case: Case) -> int:
    """A cascade job of the case (as a request to cascade to many federations leaves)."""
    from workflows.models import CascadeJob

    job, _created = CascadeJob.objects.get_or_create(
        case=case, defaults={"level": "provincial", "targets": ["beijing"], "total": 1}
    )
    return job.pk


def fill(route: str, pattern: URLPattern, world: World) -> dict:
    """Real ids for the route's parameters."""
    names = set(pattern.pattern.regex.groupindex)
    text = _route_text(route)
    if text.startswith("engine/") and "task_pk" in names:
        node = text.split("/")[3]
        process, task = _engine_task(world, node)
        return {"process_pk": process, "task_pk": task}
    if text.startswith("admin/"):
        if "app_label" in names:
            return {"app_label": "workflows"}
        if "url" in names:
            return {"url": "no-such-page/"}
        if "content_type_id" in names:
            return {"content_type_id": ContentType.objects.get_for_model(Case).pk, "object_id": 1}
        if "id" in names:
            return {"id": world.approval.assignee_id}
        if "object_id" in names:
            app_label, model = text.split("/")[1:3]
            model_class = ContentType.objects.get_by_natural_key(app_label, model).model_class()
            first = model_class._default_manager.order_by("pk").first()
            assert first is not None, f"no {model_class.__name__} in the world: add one"
            return {"object_id": first.pk}
    values = {
        "case_id": world.case.pk,
        "process_pk": world.case.pk,
        # The guard override waits on an implementation step; other task pages use the approval.
        "task_id": world.implementation.pk if "/override/" in text else world.approval.pk,
        "evidence_id": world.evidence.pk,
        "uidb64": urlsafe_base64_encode(force_bytes(world.approval.assignee_id)),
        "token": "not-a-real-token",
        # Regenerating makes a new version of a case's completion report; reading a report is
        # tried on the programme report, which only those who see all reports may read.
        "report_id": (
            world.completion_report.pk if "/regenerate/" in text else world.programme_report.pk
        ),
        "cycle_id": world.cycle.pk,
        "view_id": _saved_view_id(ROLES["staff"]),
        "department_id": world.case.lead_department_id,
        "request_id": world.implementation.case.extension_requests.values("pk").first()["pk"],
        "order_id": world.implementation.case.supervision_orders.values("pk").first()["pk"],
        "instruction_id": world.implementation.case.instructions.values("pk").first()["pk"],
        "fmt": "xlsx",
        "job_id": _cascade_job_id(world.case),
    }
    if "target" in names:  # urging: the approval task
        key = "pk" if "pk" in names else "item_id"
        return {"target": "task", key: world.approval.pk}
    if "pk" in names:
        if re.search(r"/(complete|progress|override-guard|resume)$", text):
            # The implementation step: claimed by the staff member, paused by the coordinator.
            return {"pk": world.implementation.pk}
        if text.startswith("api/v1/reports"):
            return {"pk": world.programme_report.pk}
        if text.startswith("api/v1/cascade-jobs"):
            return {"pk": _cascade_job_id(world.case)}
        return {"pk": world.case.pk if text.startswith("api/v1/cases") else world.approval.pk}
    return {name: values[name] for name in names}


def _path(route: str, pattern: URLPattern, kwargs: dict) -> str:
    text = _route_text(route).removesuffix("$")
    if "(?P<" in text:
        for name, value in kwargs.items():
            text = re.sub(rf"\(\?P<{name}>[^)]*\)", str(value), text)
        return "/" + text.replace("^", "")
    for name, value in kwargs.items():
        text = re.sub(rf"<(\w+:)?{name}>", str(value), text)
    return "/" + text


# --------------------------------------------------------------------------- judging


def outcome_of(response) -> str:
    status = response.status_code
    if status == 200 and response.request["REQUEST_METHOD"] == "POST":
        levels = [m.level for m in get_messages(response.wsgi_request)]
        if django_messages.ERROR in levels:
            return REFUSED
    if status in (200, 201, 202):
        return OK
    if status == 409:
        return CONFLICT
    if status in (403, 404):
        body = getattr(response, "data", None)
        if isinstance(body, dict) and "credentials were not provided" in str(body.get("detail")):
            return API_ANON
        return DENIED
    if status == 401:
        return API_ANON
    if status == 302:
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return ADMIN
        if location.startswith("/accounts/login/?next="):
            return LOGIN
        levels = [m.level for m in get_messages(response.wsgi_request)]
        if django_messages.ERROR in levels:
            return REFUSED
        if response.request["REQUEST_METHOD"] == "POST" and (
            "/workflows/" in location and response.request["PATH_INFO"].startswith("/workflows/")
        ):
            return DONE
        return REDIRECT
    return f"HTTP {status}"


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_world(tmp_path)


def test_every_url_as_every_role_gets_what_the_table_says(world):
    logged_in = {}
    for role, username in ROLES.items():
        client = Client()
        if username:
            client.force_login(get_user_model().objects.get(username=username))
        logged_in[role] = client.cookies

    mismatches = []
    for route, pattern in all_routes():
        kwargs = fill(route, pattern, world)
        url = _path(route, pattern, kwargs)
        for row in rows_for(route):
            for role in ROLES:
                client = Client()
                client.cookies = type(logged_in[role])(logged_in[role])
                client.raise_request_exception = False
                # Each request runs in a savepoint rolled back afterwards, so a POST that
                # succeeds (an approval, a launch) leaves the world as the next request needs it.
                with transaction.atomic():
                    if row.method == "post":
                        response = client.post(url, row.data)
                    else:
                        response = client.get(url)
                    transaction.set_rollback(True)
                got = outcome_of(response)
                want = row.expected[role]
                if got != want:
                    mismatches.append(f"{row.method.upper()} {url} as {role}: {got}, want {want}")
    assert mismatches == [], "\n".join(mismatches)


def test_the_roles_are_who_the_table_says(world):
    users = get_user_model().objects
    for role, group in (("staff", "department_staff"), ("head", "department_heads")):
        assert users.get(username=ROLES[role]).groups.filter(name=group).exists()
    assert Group.objects.get(name="leaders").user_set.filter(username=ROLES["leader"]).exists()
    # The leader is outside the world's case: the table's DENIED rows rely on it.
    assert world.case.supervising_leader.holder.username != ROLES["leader"]
    assert users.get(username=ROLES["auditor"]).groups.filter(name="auditors").exists()
    assert users.get(username=ROLES["admin"]).is_superuser
