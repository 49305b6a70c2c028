"""The API fuzzed from its own OpenAPI schema (schemathesis): no 500s, responses as described.

Runs in-process against the Django WSGI app, authenticated as a coordinator by token, with a
bounded number of examples per operation so the whole module stays well under a minute.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def api_token(coordinator, launch):
    """A coordinator's token, with two cases (one open task each) for ids to land on."""
    launch("2.2")
    launch("2.3")
    return Token.objects.create(user=coordinator).key


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
def test_the_api_answers_every_generated_request_as_its_schema_says(case, api_token):
    case.call_and_validate(
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
