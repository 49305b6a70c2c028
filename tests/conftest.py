"""Shared fixtures: the default catalogue, demo users for every role, launched cases."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

DEMO_PASSWORD = "demo-pass-for-tests"


@pytest.fixture
def catalogue(db):
    """The shipped default catalogue, loaded into the test database."""
    call_command("load_catalogue", verbosity=0)


@pytest.fixture
def demo_users(catalogue, monkeypatch):
    """One account per role (seed_demo), all with DEMO_PASSWORD; returns a username lookup."""
    from workflows.demo.accounts import demo_seed

    demo_seed(password=DEMO_PASSWORD)
    users = get_user_model().objects

    def get(username: str):
        return users.get(username=username)

    return get


@pytest.fixture
def coordinator(demo_users):
    return demo_users("coordinator.office")


@pytest.fixture
def auditor(demo_users):
    return demo_users("auditor")


@pytest.fixture
def launch(coordinator):
    """Launch a measure's case as the coordinator: launch("2.2") -> Case."""
    from workflows.cases.launch import case_launch
    from workflows.models import Measure

    def do(code: str):
        case, _created = case_launch(measure=Measure.objects.get(code=code), by=coordinator)
        return case

    return do


@pytest.fixture
def open_item():
    """The case's single open work item."""
    from workflows.models import WorkItem

    def get(case):
        return WorkItem.objects.get(case=case, status="open")

    return get


@pytest.fixture(autouse=True)
def _audit_trail_emptied_before_flush(request):
    """Transactional tests end with `flush`, a TRUNCATE, which the audit table's PostgreSQL
    trigger refuses while it holds events: empty it first, with the trigger off for a moment."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    if not transactional:
        yield
        return
    # Set up the database first, so this teardown runs before its flush.
    request.getfixturevalue("transactional_db")
    yield
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE workflows_auditevent DISABLE TRIGGER workflows_auditevent_no_truncate"
        )
        # CASCADE: score entries and other rows that point at events go with them.
        cursor.execute("TRUNCATE workflows_auditevent CASCADE")
        cursor.execute(
            "ALTER TABLE workflows_auditevent ENABLE TRIGGER workflows_auditevent_no_truncate"
        )


@pytest.fixture(autouse=True)
def _cache_emptied():
    """Each test starts from an empty cache (as settings.test says): a sweep an earlier test
    recorded, at whatever time it travelled to, must not make a later /healthz stale."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _change_stamp_bumped_at_once(request, monkeypatch):
    """A test runs inside one transaction that never commits, so nothing registered to run on
    commit ever does: the change stamp (common/change_stamp.py) is bumped at the write instead,
    as the commit would. Transactional tests keep the real hook."""
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    ):
        return
    from workflows.common import change_stamp

    monkeypatch.setattr(
        change_stamp, "_hook_once", lambda using, cases=None: change_stamp.bump_cases(cases, using)
    )
    monkeypatch.setattr(change_stamp, "_after_commit", lambda hook, using: hook())
    # And the audit trail's stamp (the audit desk), which every appended event moves.
    monkeypatch.setattr(
        change_stamp, "trail_bump_on_commit", lambda using=None: change_stamp._trail_bump()
    )


@pytest.fixture(autouse=True)
def _without_handoffs_where_marked(request, settings):
    """Hand-off notices (notifications.handoffs) are on in every test, as in production. The
    tests marked `without_handoffs` count one other kind of mail to the message (a reminder's
    rungs, a digest, a channel's posts, the daily cap), on cases walked to that point by
    services, each of whose steps would add its own hand-off mail to the count."""
    if request.node.get_closest_marker("without_handoffs") is not None:
        settings.NOTIFICATION_HANDOFFS = False
