"""The API fuzzed from its own OpenAPI schema (schemathesis): no 500s, responses as described.

Runs in-process against the Django WSGI app, authenticated as a coordinator by token, with a
bounded number of examples per operation so the whole module stays well under a minute.
"""

import datetime as dt
import re
from collections import Counter, defaultdict

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from tests.casework import walk_by_services
from workflows.common import reach
from workflows.common.calendar import local_date
from workflows.models import AuditEvent, FeedbackCycle, ScoreEntry, ScoreKind
from workflows.supervision import cycles as supervision_cycles
from workflows.supervision import extensions
from workflows.supervision import instructions as supervision_instructions
from workflows.supervision import orders as supervision_orders

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def api_token(coordinator, launch):
    """A coordinator's token, with two cases (one open task each) for ids to land on, and on
    the second one of each supervision record (a cycle with a partner input, an extension
    request, an order, an instruction, a score entry) for the supervision routes."""
    launch("2.2")
    _supervised(launch("2.3"), coordinator)
    return Token.objects.create(user=coordinator).key


def _supervised(case, coordinator) -> None:
    item = walk_by_services(case, until_kind="implement")
    supervision_cycles.feedback_cycles_open(now=timezone.now())
    cycle = FeedbackCycle.objects.get(case=case)
    partner = reach.case_partner_departments(case).first().staff.first()
    supervision_cycles.partner_input_add(cycle=cycle, user=partner, text="Our input.")
    extensions.extension_request(
        item=item,
        user=item.assignee,
        reason="Waiting.",
        new_date=local_date(item.due_at) + dt.timedelta(days=30),
        percent=10,
    )
    supervision_orders.order_issue(case=case, by=coordinator, reason="Lagging.")
    supervision_instructions.instruction_issue(
        case=case, leader=case.supervising_leader.holder, text="Go."
    )
    ScoreEntry.objects.create(
        period=local_date(timezone.now()).replace(day=1),
        department=case.lead_department,
        kind=ScoreKind.ON_TIME,
        points=1,
        rule_points=1,
        case=case,
        work_item=item,
        event=AuditEvent.objects.filter(case=case).first(),
    )


@pytest.fixture
def api_schema(db):
    # Requests go straight to the WSGI handler, whose request signals would close the test's
    # database connection (inside its transaction, on PostgreSQL); Django's own test client
    # disconnects them the same way.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
# Derandomised: CI replays the same examples as the last local run, so a finding is
# reproducible; widen the search by running with --hypothesis-seed locally.
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_every_generated_request_as_its_schema_says(case, api_token, figures):
    response = case.call_and_validate(
        headers={"Authorization": f"Token {api_token}"},
        # Our valid token rides along with the generated "invalid" credentials, so this check
        # would flag every 200; anonymous refusals are pinned in test_url_access instead.
        # positive_data_acceptance expects every schema-valid body to succeed, but the services
        # refuse valid-looking input on business rules (an unknown measure code, a return
        # without a reason, the wrong action for the step kind): a 400 with the reason.
        excluded_checks=[
            schemathesis.checks.ignored_auth,
            schemathesis.checks.positive_data_acceptance,
        ],
    )
    figures[case.operation.label].append(response.status_code)


@pytest.fixture(scope="module")
def figures(request):
    """The fuzzing figures, printed at the end: operations, requests made, status codes."""
    calls: dict[str, list[int]] = defaultdict(list)
    yield calls
    statuses = Counter(code for codes in calls.values() for code in codes)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and calls:
        reporter.write_line(
            f"\nschemathesis: {len(calls)} operations, {statuses.total()} requests, "
            f"status codes {dict(sorted(statuses.items()))}, "
            f"5xx: {sum(n for code, n in statuses.items() if code >= 500)}"
        )
        supervision_calls = {k: v for k, v in calls.items() if _SUPERVISION.search(k)}
        ok = sum(1 for codes in supervision_calls.values() for code in codes if code < 300)
        reporter.write_line(
            f"schemathesis, supervision routes: {len(supervision_calls)} operations, "
            f"{sum(map(len, supervision_calls.values()))} requests, {ok} answered 2xx"
        )


# The supervision layer's routes (workflows/api_supervision_urls.py).
_SUPERVISION = re.compile(
    r"/api/v1/(cycles|extension-requests|orders|instructions|appraisal|ledger)"
    r"|\{case_id\}/(extension-requests|orders|instructions|lights)"
)
