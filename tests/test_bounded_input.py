"""Issue 15's reproduced defects in input and robustness, one test each: dates beyond the
horizon, working days counted one at a time, smallint overflow in the lights, control
characters in the ledger, missing files, and a plain `migrate` without the cache table.

Measure 2.2's draft, launched Mon 1 Mar 2027, is due Mon 22 Mar 18:00 (see test_escalation)."""

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from tests.casework import advance, claim, open_item_of, submit
from tests.deadline_helpers import beijing
from workflows.common.calendar import WorkingCalendar, due_at_for
from workflows.models import (
    AuditEvent,
    CaseLight,
    Evidence,
    FeedbackCycle,
    Measure,
    ProgressUpdate,
    Report,
    WorkItem,
)
from workflows.reports import generate
from workflows.reports import services as reports_services
from workflows.supervision import cycles, extensions, instructions
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
LAUNCHED = beijing(2027, 3, 1, 10)
AFTER_DUE = beijing(2027, 3, 23, 19)  # rung 1 has fired for a task due 22 Mar 18:00


def at(moment):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def case(launch):
    with at(LAUNCHED):
        return launch("2.2")


# --------------------------------------------------------------------------- dates in range


def test_an_extension_to_2207_is_a_400_naming_the_field_in_the_api_and_the_page(
    client, case, coordinator
):
    item = open_item_of(case)
    api_client = APIClient()
    with at(beijing(2027, 3, 2, 10)):
        api_client.force_authenticate(coordinator)
        response = api_client.post(
            f"/api/v1/tasks/{item.pk}/extend",
            {"new_date": "2207-01-05", "reason": "A typo for 2027."},
            format="json",
        )
        assert response.status_code == 400, response.content
        assert response.json()["detail"].startswith("new_date: Enter a date between")
        client.force_login(coordinator)
        page = client.post(
            reverse("workflows:deadline", args=[item.pk]),
            {"action": "extend", "new_date": "9999-12-31", "reason": "x"},
            follow=True,
        )
    assert "Enter a date between" in page.content.decode()
    assert WorkItem.objects.get(pk=item.pk).due_at == due_at_for(dt.date(2027, 3, 22))
    assert not AuditEvent.objects.filter(verb="deadline_extended").exists()


def test_a_due_date_in_2207_written_in_the_database_does_not_stop_the_lights_or_the_mail(
    case, launch, mailoutbox
):
    """Before: `smallint out of range` in the lights failed every sweep before delivery."""
    with at(LAUNCHED):
        other = launch("2.3")
    far = open_item_of(case)
    WorkItem.objects.filter(pk=far.pk).update(due_at=due_at_for(dt.date(2207, 1, 5)))

    with at(AFTER_DUE):
        result = sweep_run(now=AFTER_DUE)

    assert not result.faults.faults, result.faults.faults
    light = CaseLight.objects.get(case=case)
    assert light.computed_at == AFTER_DUE and light.working_days_left > 32767
    assert CaseLight.objects.get(case=other).deadline == "red"  # 2.3's draft is overdue
    assert {m.extra_headers["X-Reformflow-Kind"] for m in mailoutbox} >= {"escalation"}


class _Lookups(WorkingCalendar):
    """The real calendar, counting its per-day lookups; walking millions of days fails fast."""

    count = 0

    def day(self, day):
        type(self).count += 1
        assert type(self).count < 5000, "working days are being walked one at a time"
        return super().day(day)


def test_the_supervision_page_of_a_task_due_9999_12_31_does_bounded_work(
    client, case, coordinator, monkeypatch
):
    """Before: the page walked eight thousand years of days (99 s)."""
    from workflows.supervision import lights

    item = open_item_of(case)
    WorkItem.objects.filter(pk=item.pk).update(due_at=due_at_for(dt.date(9999, 12, 31)))
    monkeypatch.setattr(lights, "WorkingCalendar", _Lookups)
    _Lookups.count = 0
    with at(beijing(2027, 3, 2, 10)):
        client.force_login(coordinator)
        response = client.get(reverse("workflows:supervision", args=[case.pk]))
    assert response.status_code == 200
    assert _Lookups.count <= 200


@pytest.mark.parametrize(
    ("url", "json"),
    [
        ("/workflows/desk/audit/", False),
        ("/workflows/desk/audit.csv", False),
        ("/api/v1/audit/", True),
    ],
)
@pytest.mark.parametrize("name", ["until", "since"])
def test_audit_filters_beyond_the_horizon_are_a_400_naming_the_field(
    client, auditor, url, json, name
):
    client.force_login(auditor)
    response = client.get(url, {name: "9999-12-31"})
    assert response.status_code == 400
    if json:
        assert response.json()["detail"].startswith(f"{name}: Enter a date between")
    elif url.endswith(".csv"):
        assert f"{name}: Enter a date between" in response.content.decode()
    else:  # the page: the error beside its field
        [error] = response.context["form"].errors[name]
        assert error.startswith("Enter a date between")
        assert error in response.content.decode()
    assert client.get(url, {name: "2026-11-30"}).status_code == 200


@pytest.mark.parametrize("view", ["workflows:appraisal", "workflows:bulletin"])
def test_an_appraisal_period_beyond_the_horizon_is_a_400_naming_the_field(
    client, coordinator, view
):
    client.force_login(coordinator)
    response = client.get(reverse(view), {"period": "9999-12"})
    assert response.status_code == 400
    assert "period: Enter a date between" in response.content.decode()
    assert client.get(reverse(view), {"period": "0000-12"}).status_code == 400
    if view == "workflows:appraisal":
        assert client.get(reverse(view), {"period": "2026-11"}).status_code == 200


def test_supervision_dates_beyond_the_horizon_are_refused_by_the_services(case, demo_users):
    item = open_item_of(case)
    staff = demo_users("network_work.staff")
    with at(beijing(2027, 3, 2, 10)), pytest.raises(Exception) as refused:
        extensions.extension_request(
            item=item, user=staff, reason="More time.", new_date=dt.date(2207, 1, 5), percent=10
        )
    assert refused.value.message_dict == {"new_date": [refused.value.messages[0]]}
    leader = case.supervising_leader.holder
    with at(beijing(2027, 3, 2, 10)), pytest.raises(Exception) as refused:
        instructions.instruction_issue(
            case=case, leader=leader, text="Reply.", due_date=dt.date(9999, 1, 1)
        )
    assert list(refused.value.message_dict) == ["due_date"]


# --------------------------------------------------------------------------- the ledger


def test_a_control_character_in_a_feedback_note_leaves_the_ledger_exports_200_and_clean(
    client, case, coordinator, demo_users
):
    """Before: a vertical tab in a note made ledger.xlsx and ledger.docx answer 500."""
    import docx
    import openpyxl

    with at(beijing(2027, 3, 2, 10)):
        for _ in range(3):  # draft, head approval, leader approval
            advance(client, case)
    with at(beijing(2027, 4, 1, 10)):
        sweep_run(now=beijing(2027, 4, 1, 10), deliver=False)
    cycle = FeedbackCycle.objects.get(case=case, period_start=dt.date(2027, 4, 1))
    with at(beijing(2027, 4, 6, 10)):
        cycles.feedback_submit(
            cycle=cycle,
            user=demo_users("network_work.staff"),
            percent=40,
            note="Pilots\x0b running in two provinces.",
        )

    def exports():
        with at(beijing(2027, 4, 6, 11)):
            client.force_login(coordinator)
            return (
                client.get(reverse("workflows:ledger", args=["xlsx"])),
                client.get(reverse("workflows:ledger", args=["docx"])),
            )

    assert [r.status_code for r in exports()] == [200, 200]
    cycle.refresh_from_db()
    assert cycle.report.note == "Pilots running in two provinces."  # cleaned at input
    # A note stored before the cleaning existed, and a catalogue title that looks like a formula.
    ProgressUpdate.objects.filter(pk=cycle.report_id).update(note="Legacy\x0b note\x1b.")
    Measure.objects.filter(code="2.2").update(title_en="=HYPERLINK(1)")

    xlsx, word = exports()
    assert (xlsx.status_code, word.status_code) == (200, 200)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    row = next(r for r in sheet.iter_rows(min_row=3) if r[0].value == "2.2")
    assert row[5].value == "40% · Legacy note."
    assert (row[1].value, row[1].data_type) == ("'=HYPERLINK(1)", "s")
    table = docx.Document(io.BytesIO(word.content)).tables[0]
    cells = next(r.cells for r in table.rows if r.cells[0].text == "2.2")
    assert cells[5].text == "40% · Legacy note." and cells[1].text == "'=HYPERLINK(1)"


# --------------------------------------------------------------------------- files


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


PDF = b"%PDF-1.4\n" + b"evidence of the reform " * 20 + b"\n%%EOF\n"


@pytest.fixture
def evidence(client, demo_users, launch, media):
    item = open_item_of(launch("2.2"))
    staff = demo_users("network_work.staff")
    claim(client, staff, item)
    submit(client, staff, item, "Plan.", files=[SimpleUploadedFile("plan.pdf", PDF)])
    return Evidence.objects.get()


@pytest.fixture
def report(coordinator, media):
    """A programme report stored through the service that stores rendered PDFs."""
    queued = reports_services.report_request_programme(by=coordinator)
    generate._report_store(queued, b"%PDF-1.4\nthe programme\n%%EOF\n")
    return Report.objects.get(pk=queued.pk)


def test_a_missing_evidence_file_is_a_410_page_and_the_attempt_is_audited(
    client, demo_users, evidence, media
):
    head = demo_users("network_work.head")
    client.force_login(head)
    url = reverse("workflows:evidence", args=[evidence.pk])
    assert client.get(url).status_code == 200
    downloaded = AuditEvent.objects.get(verb="evidence_downloaded")
    assert downloaded.actor == head and downloaded.data["evidence"] == evidence.pk

    (media / evidence.file.name).unlink()
    response = client.get(url)

    assert response.status_code == 410
    assert "plan.pdf" in response.content.decode() and "missing" in response.content.decode()
    event = AuditEvent.objects.get(verb="file_missing")
    assert (event.actor, event.case_id, event.data["evidence"]) == (
        head,
        evidence.case_id,
        evidence.pk,
    )


def test_a_missing_report_file_is_a_410_page_and_the_attempt_is_audited(
    client, coordinator, report, media
):
    client.force_login(coordinator)
    url = reverse("workflows:report_download", args=[report.pk])
    (media / report.file.name).unlink()

    response = client.get(url)

    assert response.status_code == 410
    assert report.download_name in response.content.decode()
    event = AuditEvent.objects.get(verb="file_missing")
    assert event.actor == coordinator and event.data["report"] == report.pk
    assert not AuditEvent.objects.filter(verb="report_downloaded").exists()


def test_verify_files_finds_a_tampered_and_a_missing_file(evidence, report, media, capsys):
    from django.core.management import CommandError, call_command

    call_command("verify_files")
    assert capsys.readouterr().out.strip() == "OK: 2 files: 2 OK, 0 missing, 0 tampered"

    (media / evidence.file.name).write_bytes(PDF.replace(b"reform", b"REFORM"))
    with pytest.raises(CommandError, match="2 files: 1 OK, 0 missing, 1 tampered"):
        call_command("verify_files")
    assert f"evidence {evidence.pk} ('plan.pdf'" in capsys.readouterr().err

    (media / report.file.name).unlink()
    with pytest.raises(CommandError, match="2 files: 0 OK, 1 missing, 1 tampered"):
        call_command("verify_files")
    runs = AuditEvent.objects.filter(verb="files_verified").order_by("pk")
    assert [(e.data["ok"], e.data["missing"], e.data["tampered"]) for e in runs] == [
        (2, 0, 0),
        (1, 0, 1),
        (0, 1, 1),
    ]


# --------------------------------------------------------------------------- migrations


def test_a_plain_migrate_prepares_the_cache_table_and_the_sweep_runs(tmp_path):
    """Before: only `make migrate` created reformflow_cache; the sweep then crashed."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "project.settings.local",
    }
    env.pop("REDIS_URL", None)  # the database cache, as deployed without Redis
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args):
        return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
            [*manage, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
        )

    migrated = run("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    swept = run("sweep")
    assert swept.returncode == 0, swept.stderr
    assert "faults skipped" not in swept.stdout, swept.stdout
    health = run(
        "shell",
        "--no-imports",
        "-c",
        "from workflows.common.health import health_report; r, ok = health_report(); "
        "print(ok, r['last_sweep']['at'] is not None, r['sweep']['failed_parts'])",
    )
    assert health.stdout.strip() == "True True []", health.stdout + health.stderr
