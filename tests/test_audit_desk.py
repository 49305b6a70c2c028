"""The audit desk: who may open it, filters, bounded queries, the exports and verification;
and auditors meeting no write button and no accepted POST anywhere on the site."""

import csv
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests.casework import advance, case_url, open_item_of, task_url, walk_to_end
from workflows.audit.sealer import audit_seal_pending
from workflows.audit.trail import audit_record
from workflows.common import change_stamp
from workflows.models import AuditEvent, AuditVerification, Case, Comment, Measure, WorkItem

AUDIT = reverse("workflows:audit")
AUDIT_CSV = reverse("workflows:audit_csv")
VERIFY = reverse("workflows:audit_verify")
PROGRAMME_CSV = reverse("workflows:programme_csv")
PROGRAMME_XLSX = reverse("workflows:programme_xlsx")
DESK_PAGES = (AUDIT, AUDIT_CSV, PROGRAMME_CSV, PROGRAMME_XLSX)


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("username", "allowed"),
    [
        ("auditor", True),
        ("coordinator.office", True),
        ("network_work.staff", False),
        ("network_work.head", False),
        ("chairman", False),
    ],
)
def test_only_auditors_and_coordinators_open_the_desk(client, demo_users, username, allowed):
    client.force_login(demo_users(username))
    for url in DESK_PAGES:
        assert client.get(url).status_code == (200 if allowed else 403), url
    assert client.post(VERIFY).status_code == (302 if allowed else 403)
    menu = client.get(reverse("workflows:index")).content.decode()
    assert (AUDIT in menu) is allowed


def test_anonymous_visitors_are_sent_to_log_in_from_the_desk(client):
    response = client.get(AUDIT)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.fixture
def two_cases(client, launch, demo_users):
    """2.2 walked to the end and 3.1 one step in, with events spread over three days."""
    start = timezone.now() - timedelta(days=3)
    with time_machine.travel(start, tick=False):
        done = launch("2.2")
    with time_machine.travel(start + timedelta(days=1), tick=False):
        walk_to_end(client, done)
    with time_machine.travel(start + timedelta(days=2), tick=False):
        started = launch("3.1")
        advance(client, started)
    client.logout()
    return done, started, start


def test_filters_by_verb_actor_case_measure_and_dates(client, auditor, two_cases):
    done, started, start = two_cases
    client.force_login(auditor)

    def shown(**query):
        response = client.get(AUDIT, query)
        assert response.status_code == 200
        return list(response.context["page"].rows)

    approvals = shown(verb="approved")
    assert approvals and {e.verb for e in approvals} == {"approved"}
    assert [e.pk for e in approvals] == sorted((e.pk for e in approvals), reverse=True)

    by_head = shown(actor="network_work.head")
    assert by_head and {e.actor_name for e in by_head} == {"network_work.head"}
    assert {e.verb for e in shown(actor="system")} >= {"task_created"}

    assert {e.case_id for e in shown(case=str(started.pk))} == {started.pk}
    assert {e.case_id for e in shown(case="2.2")} == {done.pk}

    day_two = timezone.localdate(start + timedelta(days=1))
    only_day_two = shown(since=day_two.isoformat(), until=day_two.isoformat())
    assert only_day_two and {e.case_id for e in only_day_two if e.case_id} == {done.pk}
    assert not {"case_launched"} & {e.verb for e in only_day_two}

    response = client.get(AUDIT, {"since": "2030-01-02", "until": "2030-01-01"})
    assert "is after" in response.content.decode()
    assert list(response.context["page"].rows) == []


def _trail_queries(captured) -> list[str]:
    return [q["sql"] for q in captured if "workflows_auditevent" in q["sql"]]


def test_the_audit_page_costs_the_same_queries_for_many_events(
    client, auditor, launch, django_assert_max_num_queries
):
    launch("2.2")
    client.force_login(auditor)
    client.get(AUDIT)  # warm the per-user caches the same way for both counts
    change_stamp._trail_bump()  # but not the page's own: its rendering is what is counted
    connection.queries_log.clear()  # a full log (9,000 queries) would capture nothing
    with django_assert_max_num_queries(12) as few:
        client.get(AUDIT)
    few = list(few.captured_queries)  # now: the log moves on
    case = Case.objects.get()
    item = open_item_of(case)
    for n in range(120):
        audit_record(verb="test_event", case=case, work_item=item, data={"n": n})
    first = client.get(AUDIT).context["page"]
    older = f"?before={first.older}"
    assert first.newer is None and f'{older}"' in client.get(AUDIT).content.decode()

    assert len(few) > 3
    connection.queries_log.clear()
    with django_assert_max_num_queries(len(few) + 1) as many:
        response = client.get(AUDIT, {"before": first.older})  # page 2 (asks for a newer one)
    many = list(many.captured_queries)

    page = response.context["page"]
    assert len(page.rows) == 50 and page.rows[0].pk == first.rows[-1].pk - 1
    assert page.newer == page.rows[0].pk and page.older == page.rows[-1].pk
    back = client.get(AUDIT, {"after": page.newer}).context["page"]
    assert [e.pk for e in back.rows] == [e.pk for e in first.rows] and back.newer is None
    # Keyset, not COUNT(*) or OFFSET; the verb filter lists the verbs of the code, not the trail.
    for sql in _trail_queries(few) + _trail_queries(many):
        assert "COUNT(" not in sql.upper() and "DISTINCT" not in sql.upper(), sql
        assert "OFFSET" not in sql.upper(), sql
    assert client.get(AUDIT, {"before": "x"}).status_code == 400


def test_the_verb_filter_offers_every_verb_the_code_records():
    from pathlib import Path

    from workflows.common.wording import AUDIT_VERBS

    root = Path(__file__).resolve().parent.parent / "workflows"
    recorded = set()
    for module in root.rglob("*.py"):
        recorded |= set(re.findall(r'verb(?:=|": )"([a-z_]+)"', module.read_text("utf-8")))
    assert recorded and recorded <= AUDIT_VERBS, recorded - AUDIT_VERBS


def test_the_csv_export_streams_the_filtered_rows_in_chain_order(client, auditor, two_cases):
    done, _started, _start = two_cases
    audit_seal_pending()
    unsealed = audit_record(verb="comment_added", case=done)
    client.force_login(auditor)

    response = client.get(AUDIT_CSV, {"case": "2.2"})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header[:4] == ["id", "created_at", "verb", "actor"] and header[-2:] == [
        "prev_hash",
        "hash",
    ]
    expected = list(AuditEvent.objects.filter(case=done, seq__isnull=False).order_by("seq"))
    expected.append(unsealed)  # not sealed yet: last, its seq and hashes empty
    assert [int(row[0]) for row in rows] == [e.pk for e in expected]
    assert rows[-1][-3:] == ["", "", ""] and rows[-2][-3] == str(expected[-2].seq)
    assert [row[2] for row in rows] == [e.verb for e in expected]
    assert {row[5] for row in rows} == {"2.2"}
    assert [row[-1] for row in rows[:-1]] == [e.hash for e in expected[:-1]]
    seqs = [int(row[-3]) for row in rows[:-1]]
    assert seqs == sorted(seqs)


def test_the_programme_exports_hold_the_dashboards_rows(client, coordinator, launch):
    case = launch("2.2")
    Measure.objects.filter(code="2.3").update(title_en="=HYPERLINK(1)")  # a hostile title
    client.force_login(coordinator)

    csv_rows = read_csv(client.get(PROGRAMME_CSV))
    response = client.get(PROGRAMME_XLSX)
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    xlsx_rows = [list(row) for row in sheet.iter_rows(values_only=True)]

    header = [
        "Measure",
        "Title",
        "Aspect",
        "Organisation",
        "Status",
        "RAG",
        "Percent complete",
        "Current step",
        "Assignee",
        "Due",
    ]
    assert csv_rows[0] == header and xlsx_rows[0] == header
    codes = list(Measure.objects.order_by("aspect__position", "position").values_list("code"))
    assert [row[0] for row in csv_rows[1:]] == [c for (c,) in codes]
    assert [row[0] for row in xlsx_rows[1:]] == [c for (c,) in codes]
    item = open_item_of(case)
    launched = next(row for row in xlsx_rows if row[0] == "2.2")
    assert launched[1] == case.measure.title_en
    assert launched[3:8] == [case.organisation.code, "In progress", "Green", 0, item.step.title_en]
    assert launched[8] == f"Queue: {item.department.title_en}"
    not_launched = next(row for row in csv_rows if row[0] == "3.1")
    assert not_launched[3:] == ["", "Not launched", "", "", "", "", ""]
    # A title that looks like a formula stays text in both files.
    assert next(row for row in csv_rows if row[0] == "2.3")[1] == "'=HYPERLINK(1)"
    hostile = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "2.3")[1]
    assert hostile.data_type == "s" and hostile.value == "=HYPERLINK(1)"


def test_the_programme_export_costs_a_fixed_number_of_queries(
    client, coordinator, launch, django_assert_max_num_queries
):
    for code in ("2.2", "2.3", "3.1", "3.2"):
        launch(code)
    client.force_login(coordinator)
    with django_assert_max_num_queries(10):
        assert client.get(PROGRAMME_XLSX).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(PROGRAMME_CSV).status_code == 200


def test_the_desk_runs_verification_shows_the_latest_result_and_audits_the_run(
    client, auditor, launch
):
    launch("2.2")
    client.force_login(auditor)
    assert "has not been verified yet" in client.get(AUDIT).content.decode()
    audit_seal_pending()  # what runs after each commit (a test's transaction never commits)
    count = AuditEvent.objects.count()

    response = client.post(VERIFY, follow=True)

    assert response.redirect_chain[-1][0] == AUDIT
    result = AuditVerification.objects.get()
    assert (result.ok, result.count, result.run_by) == (True, count, auditor)
    page = response.content.decode()
    assert f"Intact: {count} events checked." in page and "by auditor" in page
    event = AuditEvent.objects.last()
    assert (event.verb, event.actor, event.data["verification"]) == (
        "audit_verified",
        auditor,
        result.pk,
    )


# --------------------------------------------------------------------------- auditors read only

# Asking for a programme report reads the programme; it changes no case.
ALLOWED_AUDITOR_FORMS = {
    reverse("set_language"),
    reverse("logout"),
    VERIFY,
    reverse("workflows:report_request"),
    # Their own mail preference (immediate or digest), audited: not case data.
    reverse("workflows:preferences"),
    # Their own saved views of the inbox and queue (a personal setting, audited).
    reverse("workflows:saved_view_save"),
}


def test_no_page_shows_an_auditor_a_write_button(client, auditor, launch):
    case = launch("2.2")
    advance(client, case)  # the draft is submitted: an approval is open
    client.force_login(auditor)
    item = open_item_of(case)
    pages = [
        reverse("workflows:index"),
        reverse("workflows:dashboard"),
        reverse("workflows:inbox"),
        reverse("workflows:queue"),
        reverse("workflows:archive"),
        case_url(case),
        task_url(item),
        task_url(WorkItem.objects.filter(case=case, status="done").first()),
        AUDIT,
    ]
    for url in pages:
        page = client.get(url).content.decode()
        forms = re.findall(r"<form\b[^>]*>", page)
        posting = [f for f in forms if 'method="post"' in f.lower()]
        actions = {
            re.search(r'action="([^"]*)"', f).group(1) if "action=" in f else url for f in posting
        }
        assert actions <= ALLOWED_AUDITOR_FORMS, (url, actions)
        assert reverse("workflows:launch") not in page, url


def _site_routes(resolver=None, prefix=""):
    """Every route of the pages (not the API, not the admin), with sample arguments."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith(("api/", "admin/")):
                continue
            yield from _site_routes(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route, entry


def _sample_url(route: str, case: Case, item: WorkItem) -> str | None:
    if route.startswith("^") or "(?P" in route:
        return None  # regex routes (none on the pages today)
    samples = {
        "case_id": case.pk,
        "task_id": item.pk,
        "process_pk": case.pk,
        "task_pk": item.pk,
    }

    def fill(match):
        converter, name = match.group(1) or "str", match.group(2)
        return str(samples.get(name, 1 if converter == "int" else "x"))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def test_an_auditor_posting_to_any_page_of_the_site_is_refused_and_nothing_changes(
    client, auditor, launch
):
    case = launch("2.2")
    advance(client, case)
    item = open_item_of(case)
    client.force_login(auditor)

    def snapshot():
        return (
            list(WorkItem.objects.values_list("pk", "status", "assignee_id", "outcome")),
            list(Case.objects.values_list("pk", "is_open", "current_step_id")),
            Comment.objects.count(),
            AuditEvent.objects.count(),
        )

    before = snapshot()
    tried = []
    for route, _pattern in _site_routes():
        url = _sample_url(route, case, item)
        if url is None or url in ALLOWED_AUDITOR_FORMS or url.startswith("/accounts/"):
            continue
        data = {"action": "decide", "decision": "approve", "comment": "x", "text": "x"}
        response = client.post(url, data)
        assert response.status_code in (403, 404, 405), (url, response.status_code)
        tried.append(url)

    assert snapshot() == before
    assert task_url(item) in tried and reverse("workflows:launch") in tried
    assert any(url.startswith("/engine/") for url in tried)
    assert len(tried) > 30


@pytest.mark.parametrize("scan_from", [1, 10**6])
def test_a_provincial_desk_pages_the_events_of_its_cases_in_either_shape(
    client, catalogue, monkeypatch, scan_from
):
    """A provincial coordinator's desk shows the events on the cases of their province and
    below, newest first, page after page: the same rows whether the bound's cases are tested
    hashed while scanning the trail (a large bound) or read through the (case, id) index."""
    from django.contrib.auth import get_user_model

    from tests.conftest import DEMO_PASSWORD
    from workflows.cases import cascade
    from workflows.cases.launch import case_launch
    from workflows.cases.selectors import audit_event_list
    from workflows.common import reach
    from workflows.demo.accounts import demo_seed
    from workflows.web import desk

    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    users = get_user_model().objects
    national = users.get(username="coordinator.office")
    for code in ("2.2", "2.3"):
        case, _ = case_launch(measure=Measure.objects.get(code=code), by=national)
        cascade.case_cascade(case=case, by=national, level="provincial")
    province = users.get(username="beijing.coordinator")
    ours = AuditEvent.objects.filter(case__organisation__code__startswith="beijing")
    expected = list(ours.order_by("-pk").values_list("pk", flat=True))
    assert expected and AuditEvent.objects.exclude(pk__in=expected).filter(case__isnull=False)
    monkeypatch.setattr(reach, "AUDIT_SCAN_CASES", scan_from)
    monkeypatch.setattr(desk, "PAGE_SIZE", 2)
    paged = audit_event_list(province, paged=True)
    assert list(paged.values_list("pk", flat=True)) == expected
    assert list(audit_event_list(province).values_list("pk", flat=True)) == expected
    client.force_login(province)
    shown, query = [], {}
    for _ in range(len(expected)):
        page = client.get(reverse("workflows:audit"), query).content.decode()
        shown += [int(pk) for pk in re.findall(r"<tr>\s*<td>(\d+)</td>", page)]
        older = re.search(r'<nav class="rf-pager">.*?[?&;]before=(\d+)"', page)
        if not older:
            break
        query = {"before": older.group(1)}
    assert shown == expected
