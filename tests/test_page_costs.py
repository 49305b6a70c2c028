"""Each page's database work does not grow with the data (issue 20): every GET page of the
boundary matrix, as A's coordinator and A's department head, asks as many queries on a small
world (the matrix's: two launched cases) as on a bigger one (four more launched cases, each
moved on through the services with evidence, progress and a feedback cycle).

The world and the pages' ids come from tests/test_boundary_matrix.py (build_world, fill), so a
new route there is measured here too. Each page is asked twice at each size (the first warms
what a process keeps: content types, the calendar) with the cache cleared before each, and the
second is counted. Only pages listed in GROWS may differ, each with why.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.casework import open_item_of, routed_user, walk_by_services
from tests.test_boundary_matrix import A, _route_text, all_routes, build_world, fill, rows_for
from tests.test_boundary_matrix import username as matrix_username
from tests.test_url_access import OK, _path
from workflows.cases import evidence as cases_evidence
from workflows.cases import launch as cases_launch
from workflows.cases import services
from workflows.models import Case, Measure, Organisation
from workflows.supervision import cycles as supervision_cycles

ROLES = ("coordinator", "head")
# The measures launched in the bigger world (the matrix's world has 2.2 and 2.4).
MORE = 4
# Pages whose query count may grow with the data, and why (route text as in the matrix; the
# query string after a space when the row has one). Every entry must be a real exception: a
# page that shows one row more per object it lists, where a constant count is not possible.
GROWS: dict[str, str] = {}


def _pages(role: str, world) -> list[tuple[str, str]]:
    """(label, url) of every GET page the role of A gets (OK) in the matrix."""
    found = []
    for route, pattern in all_routes():
        text = _route_text(route)
        for row in rows_for(route):
            if row.method != "get" or row.expected["same"][role] != OK:
                continue
            url = _path(route, pattern, fill(route, pattern, row, world))
            query = "&".join(f"{k}={v}" for k, v in row.query.items())
            target = f" [{row.target}]" if row.target else ""
            found.append((f"{text}{target}" + (f" ?{query}" if query else ""), url, row.query))
    return found


def _counts(world) -> dict[tuple[str, str], tuple[int, int]]:
    users = get_user_model().objects
    counts = {}
    for role in ROLES:
        user = users.get(username=matrix_username(role, "same"))
        for label, url, query in _pages(role, world):
            for _attempt in range(2):
                cache.clear()
                client = Client(raise_request_exception=False)
                client.force_login(user)
                with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
                    response = client.get(url, query)
                    if getattr(response, "streaming", False):
                        b"".join(response.streaming_content)
                    transaction.set_rollback(True)
            counts[(label, role)] = (response.status_code, len(ctx))
    return counts


def _grow(world) -> None:
    """Four more of A's measures launched and moved on: a submission with evidence, approvals,
    an implementation step with progress and its feedback cycle."""
    province = Organisation.objects.get(code=A)
    coordinator = get_user_model().objects.get(username=f"{A}.coordinator")
    launched = set(Case.objects.filter(organisation=province).values_list("measure_id", flat=True))
    for measure in Measure.objects.exclude(pk__in=launched).order_by("code")[:MORE]:
        case = cases_launch.case_launch(measure=measure, by=coordinator, organisation=province)[0]
        item = open_item_of(case)
        user = routed_user(item)
        item = services.task_claim(item=item, user=user)
        cases_evidence.evidence_add(
            case=case,
            item=item,
            user=user,
            upload=SimpleUploadedFile("plan.pdf", b"%PDF-1.4 plan", "application/pdf"),
        )
        services.task_complete(item=item, user=user, note="Plan.")
        services.comment_add(case=case, user=user, text="Submitted.")
        implementation = walk_by_services(case, until_kind="implement")
        if implementation is not None:
            services.progress_report(item=implementation, user=user, percent=40, note="40%")
    supervision_cycles.feedback_cycles_open(now=timezone.now())


@pytest.fixture(scope="module")
def sizes(django_db_setup, django_db_blocker, tmp_path_factory):
    """The counts on the matrix's world, then on the same world grown, in one transaction
    rolled back at the end."""
    media = str(tmp_path_factory.mktemp("media"))
    with override_settings(MEDIA_ROOT=media), django_db_blocker.unblock(), transaction.atomic():
        world = build_world()
        small = _counts(world)
        _grow(world)
        assert Case.objects.filter(organisation__code=A).count() == 2 + MORE
        big = _counts(world)
        transaction.set_rollback(True)
    return small, big


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_page_asks_as_many_queries_on_a_bigger_world(sizes, role):
    small, big = sizes
    pages = [key for key in small if key[1] == role]
    assert len(pages) > 30, "the matrix should give this role most pages"
    failed = [
        f"{label}: answers {small[label, role][0]}"
        for label, _ in pages
        if small[label, role][0] != 200
    ]
    grew = [
        f"{label}: {small[label, role][1]} queries with 2 cases, {big[label, role][1]} with "
        f"{2 + MORE}"
        for label, _ in pages
        if small[label, role][1] != big[label, role][1] and label.split(" ?")[0] not in GROWS
    ]
    assert failed == [], "\n".join(failed)
    assert grew == [], "\n".join(grew)


def test_the_exceptions_name_real_routes():
    routes = {_route_text(route) for route, _ in all_routes()}
    assert {label.split(" ")[0] for label in GROWS} <= routes
