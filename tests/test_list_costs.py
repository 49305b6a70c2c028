"""Lists and exports that show a page do work in proportion to the page (issue 20): the same
number of queries with few rows behind them as with many, and paged where rows can grow."""

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from workflows.appraisal.scoring import RANKING_PAGE_SIZE
from workflows.common import change_stamp
from workflows.models import (
    Cadence,
    Case,
    CycleStatus,
    Department,
    FeedbackCycle,
    Organisation,
    ScoreEntry,
    ScoreKind,
    WorkItem,
)
from workflows.web.appraisal import ENTRIES_PAGE_SIZE

SMALL = ("2.2",)
LARGE = ("2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3")
PERIOD = dt.date(2027, 3, 1)


def queries(client, user, url, params=None) -> int:
    client.force_login(user)
    # Warm first: a write since the last request moved the change stamp, so the menu's cached
    # My work count is read again once (common/change_stamp.py); the page's own cost is fixed.
    warm = client.get(url, params or {})
    if warm.streaming:
        b"".join(warm.streaming_content)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
        assert response.status_code == 200, (url, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured)


PAGES = [
    ("coordinator.office", reverse("workflows:ledger", args=["xlsx"]), None),
    ("coordinator.office", reverse("workflows:ledger", args=["docx"]), None),
    ("coordinator.office", reverse("workflows:ledger", args=["xlsx"]), {"below": "1"}),
    ("coordinator.office", reverse("workflows:programme_csv"), None),
    ("coordinator.office", reverse("workflows:programme_xlsx"), None),
    ("coordinator.office", "/api/v1/cases/", None),
    # A national department head reaches its key's cases in every federation below.
    ("network_work.head", "/api/v1/cases/", None),
    ("network_work.staff", "/api/v1/cases/", {"limit": "2"}),
]


def test_ledgers_exports_and_the_case_list_cost_the_same_queries_at_two_sizes(
    client, demo_users, launch
):
    for code in SMALL:
        launch(code)
    small = [queries(client, demo_users(user), url, params) for user, url, params in PAGES]
    for code in LARGE[len(SMALL) :]:
        launch(code)
    large = [queries(client, demo_users(user), url, params) for user, url, params in PAGES]
    assert large == small, list(zip(PAGES, small, large, strict=True))


def test_the_api_lists_read_afresh_cost_the_same_queries_at_two_sizes(client, demo_users, launch):
    """The API's lists are cached under the change stamp (api/cases.py); the warm requests
    above are hits, so here the stamp moves before each request and every one is a miss."""
    from workflows.common import change_stamp

    lists = [
        ("coordinator.office", "/api/v1/cases/", None),
        ("network_work.head", "/api/v1/cases/", None),
        ("network_work.staff", "/api/v1/cases/", {"organisation": "acftu"}),
        ("coordinator.office", "/api/v1/measures/", None),
        ("coordinator.office", "/api/v1/measures/", {"level": "national"}),
        ("network_work.head", "/api/v1/measures/", None),
    ]

    def misses() -> list[int]:
        counts = []
        for user, url, params in lists:
            client.force_login(demo_users(user))
            client.get(url, params or {})
            change_stamp.bump()
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url, params or {}).status_code == 200
            counts.append(len(captured))
        return counts

    for code in SMALL:
        launch(code)
    small = misses()
    for code in LARGE[len(SMALL) :]:
        launch(code)
    assert misses() == small, list(zip(lists, small, misses(), strict=True))


def test_the_task_lists_kept_and_read_afresh_cost_the_same_queries_at_two_sizes(
    client, demo_users, launch
):
    """The inbox, the queue and /api/v1/tasks/ are kept per person under the change stamp
    (web/cases.py, api/tasks.py): a hit and a miss (the stamp moved first) each ask as many
    queries with one task in each list as with several."""
    from workflows.cases import services
    from workflows.common import change_stamp

    lists = [
        ("network_work.staff", reverse("workflows:inbox"), None),
        ("network_work.staff", reverse("workflows:queue"), None),
        ("network_work.staff", reverse("workflows:queue"), {"sort": "measure", "kind": "submit"}),
        ("network_work.staff", "/api/v1/tasks/", None),
        ("network_work.staff", "/api/v1/tasks/", {"limit": "2"}),
    ]
    staff = demo_users("network_work.staff")

    def claim_one(code: str) -> None:
        item = WorkItem.objects.get(case=launch(code), status="open")
        services.task_claim(item=item, user=staff)

    def costs() -> list[tuple[int, int]]:
        found = []
        for user, url, params in lists:
            hit = queries(client, demo_users(user), url, params)
            change_stamp.bump()
            with CaptureQueriesContext(connection) as miss:
                assert client.get(url, params or {}).status_code == 200
            found.append((hit, len(miss)))
        return found

    # Each list holds a row at both sizes: one task claimed (inbox), one not (queue).
    claim_one("2.1")
    launch("2.2")
    small = costs()
    claim_one("2.3")
    for code in ("2.4", "2.5"):
        launch(code)
    assert costs() == small, list(zip(lists, small, costs(), strict=True))


def test_the_case_list_counts_up_to_a_ceiling_and_still_links_on(
    client, demo_users, launch, settings
):
    from workflows.api.pagination import CappedCountPagination

    for code in LARGE:
        launch(code)
    client.force_login(demo_users("coordinator.office"))
    exact = client.get("/api/v1/cases/", {"limit": "2"}).json()
    assert exact["count"] == len(LARGE) and exact["next"]
    ceiling = CappedCountPagination.count_ceiling
    CappedCountPagination.count_ceiling = 3
    try:
        capped = client.get("/api/v1/cases/", {"limit": "2"}).json()
        later = client.get("/api/v1/cases/", {"limit": "2", "offset": "4"}).json()
    finally:
        CappedCountPagination.count_ceiling = ceiling
    # A floor at the ceiling, the pages as before: `next` still leads on past it.
    assert capped["count"] == 3 and capped["next"]
    assert [c["id"] for c in capped["results"]] == [c["id"] for c in exact["results"]]
    assert later["count"] == len(LARGE) and len(later["results"]) == 2


def test_a_ledger_row_lists_its_missed_reports(client, demo_users, launch):
    case = launch("2.2")
    item = WorkItem.objects.filter(case=case).first()
    for month in (1, 2):
        start = dt.date(2027, month, 1)
        FeedbackCycle.objects.create(
            case=case,
            work_item=item,
            cadence=Cadence.MONTHLY,
            period_start=start,
            period_end=start + dt.timedelta(days=27),
            due_at=dt.datetime(2027, month, 28, tzinfo=dt.UTC),
            status=CycleStatus.MISSED,
        )
    client.force_login(demo_users("coordinator.office"))
    book = load_workbook(io.BytesIO(client.get(reverse("workflows:ledger", args=["xlsx"])).content))
    (row,) = [r for r in book.active.iter_rows(values_only=True) if r[0] == "2.2"]
    assert "1 Jan 2027" in row[7] and "1 Feb 2027" in row[7]  # in the locale's style


def _score(department: Department, case: Case, count: int, points: int = 1) -> None:
    ScoreEntry.objects.bulk_create(
        ScoreEntry(
            period=PERIOD,
            department=department,
            kind=ScoreKind.ON_TIME if points > 0 else ScoreKind.OVERDUE,
            points=points,
            rule_points=points,
            case=case,
            note=f"entry {n}",
        )
        for n in range(count)
    )
    # Written by hand: move the stamp as scoring a month does (appraisal_compute), so the
    # appraisal's cached ranking is retired.
    change_stamp.bump([department.organisation.path])


def test_the_appraisal_and_a_departments_entries_are_paged_at_a_fixed_cost(
    client, demo_users, launch
):
    case = launch("2.2")
    coordinator = demo_users("coordinator.office")
    national = Organisation.objects.get(parent__isnull=True)
    departments = list(Department.objects.filter(organisation=national).order_by("key"))
    first = departments[0]
    ranking = reverse("workflows:appraisal")
    entries = reverse("workflows:appraisal_department", args=[first.pk])
    params = {"period": "2027-03"}
    _score(first, case, 2)
    small = [queries(client, coordinator, url, params) for url in (ranking, entries)]
    _score(first, case, ENTRIES_PAGE_SIZE + 20)
    for department in departments[1:]:
        _score(department, case, 3, points=-1)
    large = [queries(client, coordinator, url, params) for url in (ranking, entries)]
    assert large == small, (small, large)
    page = client.get(entries, params).content.decode()
    assert page.count('class="rf-score"') == ENTRIES_PAGE_SIZE
    assert f"<strong>{ENTRIES_PAGE_SIZE + 22}</strong>" in page  # the month's total
    assert "rf-pager" in page
    second = client.get(entries, {**params, "page": "2"}).content.decode()
    assert second.count('class="rf-score"') == 22
    # The ranking: best first, every department on one page (fewer than a page of them).
    assert len(departments) <= RANKING_PAGE_SIZE
    table = client.get(ranking, params).content.decode()
    assert table.index(first.title) < table.index(departments[1].title)
    assert "rf-pager" not in table


@pytest.mark.parametrize("page", ["0", "x", "999"])
def test_an_appraisal_page_out_of_range_shows_a_page(client, coordinator, page):
    client.force_login(coordinator)
    response = client.get(reverse("workflows:appraisal"), {"period": "2027-03", "page": page})
    assert response.status_code == 200


def test_a_federations_latest_scored_month_is_its_own(demo_users, launch):
    """The appraisal opens on the federation's latest month with entries (read per department
    from the (department, period) index): another federation's later month is not it, and a
    federation without entries has none."""
    from workflows.appraisal.scoring import latest_period, period_default
    from workflows.models import OrganisationLevel
    from workflows.organisations.services import organisation_create

    case = launch("2.2")
    national = Organisation.objects.get(parent__isnull=True)
    province = organisation_create(
        code="a-province",
        title_en="A province",
        level=OrganisationLevel.objects.get(key="provincial"),
        parent=national,
    )
    other = Department.objects.filter(organisation=province).order_by("key")[0]
    assert latest_period(national) is None
    assert latest_period(other.organisation) is None
    assert latest_period() is None
    ours = list(Department.objects.filter(organisation=national).order_by("key")[:2])
    _score(ours[0], case, 1)
    ScoreEntry.objects.filter(department=ours[0]).update(period=dt.date(2027, 1, 1))
    _score(ours[1], case, 1)  # PERIOD, 2027-03
    _score(other, case, 1)
    ScoreEntry.objects.filter(department=other).update(period=dt.date(2027, 5, 1))
    assert latest_period(national) == PERIOD
    assert period_default(national) == PERIOD
    assert latest_period(other.organisation) == dt.date(2027, 5, 1)
    assert latest_period() == dt.date(2027, 5, 1)
