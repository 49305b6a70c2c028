"""PDF reports: the completion report that ends a case's flow, programme reports on demand,
the reports desk and API, access by role, audited downloads and the no-network renderer."""

import datetime as dt
import hashlib
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from tests.casework import advance, claim, open_item_of, report_progress, routed_user, walk_to_end
from workflows.audit.trail import audit_record, audit_verify
from workflows.cases.flow import MeasureFlow
from workflows.models import AuditEvent, Measure, Report, WorkItem
from workflows.notifications.delivery import notifications_deliver_due
from workflows.reports import render as reports
from workflows.reports import services as reports_services

TITLE_ZH_2_2 = "建设动态实名、全面覆盖、安全共享的工会大数据库"
PLAN_TITLE_ZH = "深化工会改革创新实施方案"
REPORTS = "/api/v1/reports/"

COMMON_HEADINGS = [
    "Contents",
    "Step timeline",
    "Deadline history",
    "Progress updates",
    "Evidence index",
    "Audit trail excerpt",
    "Provenance of the catalogue",
]
COMPLETION_HEADINGS = [*COMMON_HEADINGS, "Case summary"]
PROGRAMME_HEADINGS = [
    *COMMON_HEADINGS,
    "Programme summary",
    "Progress by aspect",
    "Open steps on time and overdue",
    "Measures",
]

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)


def pdf_text(report: Report) -> str:
    """The report's text in drawing order, whitespace collapsed (table cells wrap lines)."""
    path = Path(report.file.path)
    result = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"],
        check=True,
        capture_output=True,
    )
    return " ".join(result.stdout.decode("utf-8").split())


def without_spaces(text: str) -> str:
    """Chinese lines wrap anywhere; compare Chinese text with all whitespace removed."""
    return re.sub(r"\s+", "", text)


def file_sha256(report: Report) -> str:
    return hashlib.sha256(Path(report.file.path).read_bytes()).hexdigest()


def completed(client, launch, django_capture_on_commit_callbacks, code="2.2"):
    """Launch and walk a case to its end through the pages, running on-commit work as it
    would run after each real commit (the completion report is queued by the sign-off)."""
    case = launch(code)
    with django_capture_on_commit_callbacks(execute=True):
        walk_to_end(client, case)
    case.refresh_from_db()
    return case


@pytest.fixture
def completed_case(client, launch, django_capture_on_commit_callbacks):
    return completed(client, launch, django_capture_on_commit_callbacks)


# --------------------------------------------------------------------------- completion


def test_completing_a_case_produces_completion_report_version_1_and_ends_the_flow(
    client, demo_users, completed_case
):
    case = completed_case
    report = Report.objects.get(case=case)
    assert (report.kind, report.version, report.status, report.progress) == (
        "completion",
        1,
        "ready",
        100,
    )
    assert report.requested_by is None
    assert report.file.name == f"reports/{report.sha256[:2]}/{report.sha256}.pdf"
    assert file_sha256(report) == report.sha256
    assert report.size == Path(report.file.path).stat().st_size
    assert Path(report.file.path).read_bytes().startswith(b"%PDF-")

    # The flow's background step ran: nothing is left waiting and the process is done.
    case.refresh_from_db()
    assert case.status == STATUS.DONE
    assert not Task.objects.filter(process=case).exclude(status=STATUS.DONE).exists()
    handle = Task.objects.get(process=case, flow_task=MeasureFlow.completion_report)
    assert handle.status == STATUS.DONE
    assert Task.objects.get(process=case, flow_task=MeasureFlow.end).status == STATUS.DONE

    generated = AuditEvent.objects.get(case=case, verb="report_generated")
    assert generated.data["sha256"] == report.sha256
    assert generated.data["version"] == 1
    assert audit_verify().ok


@needs_pdftotext
def test_completion_pdf_shows_chinese_text_every_section_and_the_case_record(
    client, demo_users, completed_case
):
    text = pdf_text(Report.objects.get(case=completed_case))

    assert TITLE_ZH_2_2 in without_spaces(text)
    assert PLAN_TITLE_ZH in without_spaces(text)
    for heading in COMPLETION_HEADINGS:
        assert heading in text, heading
    # Timeline: who decided, the decision and its note; the progress narrative; the audit.
    assert "Xu Shansong" in text  # the supervising leader's placeholder name
    assert "Approved 2.2/leader_approval approved." in text
    assert "Half of 2.2/implementation done." in text
    assert "Case completed" in text
    for key in ("case_completed", "task_created", "implementation_phase_1", "Complete d"):
        assert key not in text, key
    assert "Beijing time" in text and " CST" not in text
    assert "PROVENANCE.md" in text and "placeholders derived from goals" in text
    # Footer page numbers ("page / pages") and the contents' page numbers (target-counter).
    pages = int(re.search(r"Reformflow · .*? (?<![\d/])1 ?/ ?(\d+)\b", text).group(1))
    assert pages >= 3 and re.search(rf"\b{pages} ?/ ?{pages}\b", text)
    toc = re.search(r"Contents Case summary[ .]+ (\d+) Step timeline", text)
    assert toc and 1 < int(toc.group(1)) <= pages


def test_generating_again_makes_version_2_and_keeps_version_1(
    client, demo_users, completed_case, django_capture_on_commit_callbacks
):
    first = Report.objects.get(case=completed_case)
    first_bytes = Path(first.file.path).read_bytes()
    client.force_login(demo_users("coordinator.office"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("workflows:report_regenerate", args=[first.pk]))
    assert response.status_code == 302

    versions = list(Report.objects.filter(case=completed_case).order_by("version"))
    assert [(r.version, r.status) for r in versions] == [(1, "ready"), (2, "ready")]
    first.refresh_from_db()
    # Version 1 is untouched: same row, same hash, same file, same bytes.
    assert first.sha256 == hashlib.sha256(first_bytes).hexdigest()
    assert Path(first.file.path).read_bytes() == first_bytes
    second = versions[1]
    assert second.sha256 != first.sha256 and second.file.name != first.file.name
    assert file_sha256(second) == second.sha256
    assert second.requested_by.username == "coordinator.office"
    # Still one finished flow: the second version does not run the node again.
    assert Task.objects.get(process=completed_case, flow_task=MeasureFlow.completion_report)


def test_only_coordinators_make_new_completion_versions(client, demo_users, completed_case):
    report = Report.objects.get(case=completed_case)
    for username in ("auditor", "network_work.head", "secretary_publicity_network"):
        client.force_login(demo_users(username))
        response = client.post(reverse("workflows:report_regenerate", args=[report.pk]))
        assert response.status_code == 403, username
    assert Report.objects.filter(case=completed_case).count() == 1


# --------------------------------------------------------------------------- programme


@needs_pdftotext
def test_programme_report_requested_on_the_desk_renders_in_the_background_and_mails(
    client, demo_users, launch, django_capture_on_commit_callbacks
):
    in_progress = launch("1.1")
    item = open_item_of(in_progress)
    claim(client, routed_user(item), item)
    coordinator = demo_users("coordinator.office")
    client.force_login(coordinator)
    desk = reverse("workflows:reports")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("workflows:report_request"), {"aspect": ""})
    assert response.status_code == 302 and response.url == desk
    report = Report.objects.get(kind="programme")
    assert (report.status, report.progress, report.version) == ("queued", 0, 1)
    # While it waits, the desk polls its status and shows it as pending.
    page = client.get(desk).content.decode()
    status_url = reverse("workflows:report_status", args=[report.pk])
    assert f'data-status-url="{status_url}"' in page
    assert client.get(status_url).json()["status"] == "queued"

    for callback in callbacks:  # what the commit would have queued: the Celery task
        callback()

    report.refresh_from_db()
    assert (report.status, report.progress) == ("ready", 100)
    status = client.get(status_url).json()
    assert status["status"] == "ready"
    assert status["download_url"] == reverse("workflows:report_download", args=[report.pk])
    assert report.as_of is not None and report.scope == "programme"
    assert file_sha256(report) == report.sha256

    # The ready notice goes through the notification log, sent by the next delivery.
    assert mail.outbox == []
    office_hours = timezone.localtime().replace(hour=10, minute=0) + dt.timedelta(days=1)
    notifications_deliver_due(now=office_hours)
    ready = [m for m in mail.outbox if m.extra_headers["X-Reformflow-Kind"] == "report"]
    assert len(ready) == 1  # the other mail: the hand-offs of the walked case
    message = ready[0]
    assert message.to == [coordinator.email]
    assert "Programme progress report (version 1) is ready" in message.subject
    assert reverse("workflows:report_download", args=[report.pk]) in message.body
    assert report.sha256 in message.body and "{" not in message.body

    text = pdf_text(report)
    for heading in PROGRAMME_HEADINGS:
        assert heading in text, heading
    # All 30 measures are in the summary and have a section, with their Chinese titles.
    measures = list(Measure.objects.all())
    assert len(measures) == 30
    for measure in measures:
        assert without_spaces(measure.title_zh) in without_spaces(text), measure.code
    assert TITLE_ZH_2_2 in without_spaces(text)
    assert "Not launched" in text and "In progress" in text
    assert "coordinator.office" in text or "Coordinator General Office" in text


@needs_pdftotext
def test_an_aspect_report_covers_only_that_aspects_measures(
    client, demo_users, django_capture_on_commit_callbacks
):
    client.force_login(demo_users("auditor"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("workflows:report_request"), {"aspect": "2"})
    report = Report.objects.get(kind="programme")
    assert report.scope == "aspect:2" and report.aspect.code == "2"
    text = without_spaces(pdf_text(report))
    assert TITLE_ZH_2_2 in text
    assert without_spaces(Measure.objects.get(code="1.1").title_zh) not in text


@needs_pdftotext
def test_deadline_history_and_overdue_days_render_from_the_deadline_verbs(
    client, demo_users, launch, django_capture_on_commit_callbacks, time_machine
):
    import datetime as dt

    from django.utils import timezone

    time_machine.move_to(dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC), tick=False)
    case = launch("2.2")
    item = open_item_of(case)
    coordinator = demo_users("coordinator.office")
    # What the deadlines work records (its verbs and data); this branch only reads them.
    due = timezone.now() + dt.timedelta(days=5)
    WorkItem.objects.filter(pk=item.pk).update(due_at=due)
    audit_record(
        verb="deadline_extended",
        actor=coordinator,
        case=case,
        work_item=item,
        reason="Waiting for the census data",
        data={"from": "2025-03-08T09:00:00+00:00", "to": due.isoformat()},
    )
    audit_record(verb="escalated", case=case, work_item=item, data={"rung": 2})

    time_machine.move_to(dt.datetime(2025, 3, 20, 9, 0, tzinfo=dt.UTC), tick=False)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("workflows:report_request"), {"aspect": "2"})
    text = pdf_text(Report.objects.get(kind="programme"))

    assert "Deadline extended" in text
    assert "Waiting for the census data" in text
    assert "8 Mar 2025, 17:00" in text  # the "from" date, shown in Asia/Shanghai time
    assert "Escalated" in text and "rung 2" in text
    # Due 2025-03-08, as of 2025-03-20: the summary row says 12 days overdue.
    assert "Draft implementation plan 8 Mar 2025 12" in text


# --------------------------------------------------------------------------- access


ACCESS = [
    ("auditor", True, True),
    ("coordinator.office", True, True),
    ("secretary_publicity_network", True, True),  # the supervising leader
    # A national leader who does not supervise 2.2: the national programme report is theirs,
    # 2.2's completion report follows its case, which is not (issue 15: one rule of reach).
    ("chairman", False, True),
    ("network_work.head", True, False),  # head of the lead department
    ("network_work.staff", True, False),  # staff of the lead department
    ("finance.head", False, False),  # head of another department
    ("women_workers.staff", False, False),
]


@pytest.mark.parametrize(
    ("username", "completion_allowed", "programme_allowed"),
    [pytest.param(*row, id=row[0]) for row in ACCESS],
)
def test_report_downloads_follow_access_and_are_audited(
    client,
    demo_users,
    completed_case,
    django_capture_on_commit_callbacks,
    username,
    completion_allowed,
    programme_allowed,
):
    completion = Report.objects.get(case=completed_case)
    with django_capture_on_commit_callbacks(execute=True):
        programme = reports_services.report_request_programme(by=demo_users("coordinator.office"))
    programme.refresh_from_db()
    user = demo_users(username)
    client.force_login(user)

    for report, allowed in ((completion, completion_allowed), (programme, programme_allowed)):
        url = reverse("workflows:report_download", args=[report.pk])
        before = AuditEvent.objects.filter(verb="report_downloaded").count()
        response = client.get(url)
        if not allowed:
            assert response.status_code == 404, (username, report.kind)
            assert AuditEvent.objects.filter(verb="report_downloaded").count() == before
            status_url = reverse("workflows:report_status", args=[report.pk])
            assert client.get(status_url).status_code == 404
            continue
        assert response.status_code == 200, (username, report.kind)
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert report.download_name in response["Content-Disposition"]
        body = b"".join(response.streaming_content)
        assert hashlib.sha256(body).hexdigest() == report.sha256
        event = AuditEvent.objects.filter(verb="report_downloaded").latest("pk")
        assert event.actor == user and event.data["report"] == report.pk
        assert event.case_id == report.case_id

    # The desk lists exactly the reports the user may download.
    listed = {row.pk for row in client.get(reverse("workflows:reports")).context["page"]}
    pairs = ((completion, completion_allowed), (programme, programme_allowed))
    assert listed == {report.pk for report, allowed in pairs if allowed}
    assert audit_verify().ok


@pytest.mark.parametrize("username", ["network_work.head", "network_work.staff", "finance.head"])
def test_only_coordinators_auditors_and_leaders_request_programme_reports(
    client, demo_users, username
):
    client.force_login(demo_users(username))
    assert client.post(reverse("workflows:report_request"), {}).status_code == 403
    page = client.get(reverse("workflows:reports")).content.decode()
    assert reverse("workflows:report_request") not in page
    assert not Report.objects.exists()


# --------------------------------------------------------------------------- desk and API


def test_the_desk_filters_and_its_queries_do_not_grow_with_the_number_of_reports(
    client, demo_users, completed_case, django_assert_max_num_queries
):
    coordinator = demo_users("coordinator.office")
    client.force_login(coordinator)
    desk = reverse("workflows:reports")
    reports_services.report_request_programme(
        by=coordinator
    )  # stays queued (no commit in the test)
    with django_assert_max_num_queries(14) as few:
        assert client.get(desk).status_code == 200
    for _ in range(6):
        reports_services.report_request_programme(by=coordinator)
        reports_services.report_request_completion(case=completed_case, by=coordinator)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(desk)
    assert len(response.context["page"].object_list) == 14

    def listed(**params):
        return [(r.kind, r.version) for r in client.get(desk, params).context["page"]]

    assert listed(kind="completion", status="ready") == [("completion", 1)]
    assert len(listed(kind="programme")) == 7
    assert len(listed(measure="2.2")) == 7
    assert len(listed(aspect="2")) == 7  # completion reports of aspect 2's measures
    assert listed(measure="1.1") == []
    assert listed(status="queued")[0] == ("completion", 7)


def test_api_lists_reports_and_accepts_programme_requests(
    demo_users, completed_case, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    api = APIClient()
    api.force_authenticate(demo_users("secretary_publicity_network"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(REPORTS, {"kind": "programme", "aspect": None}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["kind"], body["scope"], body["version"], body["status"]) == (
        "programme",
        "programme",
        1,
        "queued",
    )
    assert body["download_url"] is None

    with django_assert_max_num_queries(8):
        listing = api.get(REPORTS).json()
    rows = {row["kind"]: row for row in listing["results"]}
    assert set(rows) == {"programme", "completion"}
    assert rows["programme"]["status"] == "ready"
    completion = rows["completion"]
    assert completion["case"] == completed_case.pk and completion["measure"] == "2.2"
    assert completion["version"] == 1
    report = Report.objects.get(pk=completion["id"])
    assert completion["sha256"] == report.sha256
    assert completion["download_url"] == "http://testserver" + reverse(
        "workflows:report_download", args=[report.pk]
    )
    # The download is the pages' view; an API client reaches it with its token.
    token = Token.objects.create(user=demo_users("secretary_publicity_network"))
    downloader = APIClient()
    downloader.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    download = downloader.get(completion["download_url"])
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == report.sha256
    assert AuditEvent.objects.get(verb="report_downloaded").actor_name == (
        "secretary_publicity_network"
    )
    assert APIClient().get(completion["download_url"]).status_code == 302  # to the login
    assert api.get(REPORTS, {"kind": "completion"}).json()["count"] == 1
    assert api.get(REPORTS, {"kind": "nonsense"}).status_code == 400

    head = APIClient()
    head.force_authenticate(demo_users("finance.head"))
    refused = head.post(REPORTS, {"kind": "programme", "aspect": None}, format="json")
    assert refused.status_code == 403
    assert "programme reports" in refused.json()["detail"]
    assert head.get(REPORTS).json()["count"] == 0
    assert head.get(f"{REPORTS}{report.pk}/").status_code == 404
    head_token = Token.objects.create(user=demo_users("finance.head"))
    head.credentials(HTTP_AUTHORIZATION=f"Token {head_token.key}")
    assert head.get(completion["download_url"]).status_code == 404


def test_api_makes_a_new_completion_version_for_coordinators_only(
    demo_users, completed_case, django_capture_on_commit_callbacks
):
    leader = APIClient()
    leader.force_authenticate(demo_users("secretary_publicity_network"))
    payload = {"kind": "completion", "case": completed_case.pk}
    assert leader.post(REPORTS, payload, format="json").status_code == 403
    coordinator = APIClient()
    coordinator.force_authenticate(demo_users("coordinator.office"))
    with django_capture_on_commit_callbacks(execute=True):
        response = coordinator.post(REPORTS, payload, format="json")
    assert response.status_code == 202 and response.json()["version"] == 2
    assert Report.objects.get(case=completed_case, version=2).status == "ready"


# --------------------------------------------------------------------------- safety


def test_the_fetcher_serves_static_files_and_refuses_everything_else():
    fetcher = reports.StaticFilesOnlyFetcher()
    css = fetcher.fetch(reports.STATIC_BASE_URL + "reports/print.css")
    assert b"@page" in css.read() and css.content_type == "text/css"
    for url in (
        "http://example.com/x.png",
        "https://example.com/x.css",
        "file:///etc/passwd",
        "data:image/png;base64,iVBORw0KGgo=",
        reports.STATIC_BASE_URL + "../../../../etc/passwd",
        reports.STATIC_BASE_URL + "reports/%2e%2e/%2e%2e/manage.py",
        reports.STATIC_BASE_URL + "reports/missing.css",
    ):
        with pytest.raises(reports.FetchRefused):
            fetcher.fetch(url)


def test_rendering_never_opens_a_network_connection(monkeypatch):
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a[0]))
    pdf = reports.html_to_pdf(
        '<html><head><link rel="stylesheet" href="http://example.com/x.css"></head>'
        '<body><p>离线</p><img src="http://example.com/x.png">'
        '<img src="reports/print.css"></body></html>'
    )
    assert pdf.startswith(b"%PDF-")
    assert attempts == []


@needs_pdftotext
def test_user_text_is_escaped_in_the_pdf(
    client, demo_users, launch, django_capture_on_commit_callbacks
):
    case = launch("2.2")
    for _ in range(3):  # draft, head approval, leader approval
        advance(client, case)
    item = open_item_of(case)
    staff = routed_user(item)
    hostile = '<b>bold</b><img src="http://example.com/evil.png"> & 50% 进展'
    if item.assignee_id is None:
        claim(client, staff, item)
    assert report_progress(client, staff, item, 40, hostile).status_code == 302

    client.force_login(demo_users("auditor"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("workflows:report_request"), {"aspect": "2"})
    text = pdf_text(Report.objects.get(kind="programme"))
    # The markup arrives as literal text (cells may wrap it, hence no spaces compared).
    assert without_spaces(hostile) in without_spaces(text)


def test_a_failed_render_is_marked_failed_and_a_new_version_finishes_the_flow(
    client, demo_users, launch, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(data, **kwargs):
        raise RuntimeError("layout exploded")

    monkeypatch.setattr(reports, "report_pdf", broken)
    case = completed(client, launch, django_capture_on_commit_callbacks)
    failed = Report.objects.get(case=case)
    assert (failed.status, failed.sha256, failed.file.name) == ("failed", "", "")
    assert "layout exploded" in failed.error
    # The flow keeps waiting for a completion report.
    handle = Task.objects.get(process=case, flow_task=MeasureFlow.completion_report)
    assert handle.status == STATUS.NEW
    client.force_login(demo_users("coordinator.office"))
    assert client.get(reverse("workflows:report_download", args=[failed.pk])).status_code == 404
    assert client.get(reverse("workflows:report_status", args=[failed.pk])).json() == {
        "id": failed.pk,
        "status": "failed",
        "status_display": "Failed",
        "progress": failed.progress,
        "download_url": None,
        "name": failed.download_name,
    }

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("workflows:report_regenerate", args=[failed.pk]))
    second = Report.objects.get(case=case, version=2)
    assert second.status == "ready"
    handle.refresh_from_db()
    case.refresh_from_db()
    assert handle.status == STATUS.DONE and case.status == STATUS.DONE
