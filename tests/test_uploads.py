"""Evidence uploads through the task pages: size and type limits, hashing, storage and
access-checked downloads."""

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.casework import advance, claim, open_item_of, report_progress, submit, task_url
from workflows.models import AuditEvent, Evidence

PDF = b"%PDF-1.4\n" + b"evidence of the reform " * 20 + b"\n%%EOF\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EVIDENCE_MAX_BYTES = 1024
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def draft(client, demo_users, launch):
    """Case 2.2's draft, claimed by the network_work staff member who will submit it."""
    item = open_item_of(launch("2.2"))
    staff = demo_users("network_work.staff")
    claim(client, staff, item)
    return item, staff


def _stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def _field_errors(response, field="files") -> list[str]:
    # Sizes are written with filesizeformat, which puts a no-break space before the unit.
    return [e.replace("\xa0", " ") for e in response.context["form"].errors.get(field, [])]


def test_a_file_over_the_size_limit_is_rejected_naming_the_limit(client, media, draft):
    item, staff = draft
    big = SimpleUploadedFile("budget.pdf", b"%PDF" + b"0" * 3000, "application/pdf")
    events_before = AuditEvent.objects.count()

    response = submit(client, staff, item, "Plan with a big annex.", files=[big])

    assert response.status_code == 200
    assert _field_errors(response) == ["“budget.pdf” is 2.9 KB; the limit is 1.0 KB."]
    assert "the limit is 1.0\xa0KB" in response.content.decode()
    item.refresh_from_db()
    assert item.is_open
    assert not Evidence.objects.exists()
    assert _stored_files(media) == []
    assert AuditEvent.objects.count() == events_before


def test_a_file_of_a_disallowed_type_is_rejected_naming_the_allowed_types(client, media, draft):
    item, staff = draft
    tool = SimpleUploadedFile("tool.exe", b"MZ\x90\x00", "application/octet-stream")

    response = submit(client, staff, item, "Plan.", files=[tool])

    assert response.status_code == 200
    [error] = _field_errors(response)
    assert error.startswith("“tool.exe” is a .exe; allowed types are .pdf, .docx")
    assert "allowed types are" in response.content.decode()
    item.refresh_from_db()
    assert item.is_open and not Evidence.objects.exists() and _stored_files(media) == []


def test_one_bad_file_rejects_the_whole_submission(client, media, draft):
    item, staff = draft
    good = SimpleUploadedFile("plan.pdf", PDF, "application/pdf")
    bad = SimpleUploadedFile("macro.xlsm", b"PK", "application/octet-stream")

    response = submit(client, staff, item, "Plan.", files=[good, bad])

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.is_open and not Evidence.objects.exists() and _stored_files(media) == []


def test_a_good_pdf_is_stored_under_media_root_with_its_sha256(client, media, draft):
    item, staff = draft
    upload = SimpleUploadedFile("plan.pdf", PDF, "application/pdf")

    response = submit(client, staff, item, "Plan with annex.", files=[upload])

    assert response.status_code == 302
    evidence = Evidence.objects.get()
    digest = hashlib.sha256(PDF).hexdigest()
    assert evidence.sha256 == digest
    assert (evidence.original_name, evidence.size, evidence.uploaded_by) == (
        "plan.pdf",
        len(PDF),
        staff,
    )
    assert evidence.work_item_id == item.pk
    stored = Path(evidence.file.path)
    assert stored.is_relative_to(media) and stored.name == digest
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    assert _stored_files(media) == [stored]
    event = AuditEvent.objects.get(verb="evidence_added")
    assert event.data["sha256"] == digest and event.work_item_id == item.pk


def test_evidence_on_a_progress_report_is_checked_and_stored_too(client, demo_users, launch, media):
    case = launch("2.2")
    for _ in range(3):
        advance(client, case)
    item = open_item_of(case)
    staff = demo_users("network_work.staff")
    claim(client, staff, item)

    too_big = SimpleUploadedFile("photos.zip", b"PK" + b"0" * 2000, "application/zip")
    response = report_progress(client, staff, item, 30, "Pilot.", files=[too_big])
    assert response.status_code == 200
    assert _field_errors(response) == ["“photos.zip” is 2.0 KB; the limit is 1.0 KB."]
    assert not item.progress.exists() and not Evidence.objects.exists()

    report = SimpleUploadedFile("report.pdf", PDF, "application/pdf")
    response = report_progress(client, staff, item, 30, "Pilot.", files=[report])
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    assert evidence.work_item_id == item.pk
    assert evidence.sha256 == hashlib.sha256(PDF).hexdigest()
    assert "report.pdf" in client.get(task_url(item)).content.decode()


def test_evidence_downloads_for_those_who_see_the_case_and_404_for_others(
    client, demo_users, media, draft
):
    item, staff = draft
    submit(client, staff, item, "Plan.", files=[SimpleUploadedFile("plan.pdf", PDF)])
    url = reverse("workflows:evidence", args=[Evidence.objects.get().pk])

    for username in ("network_work.head", "secretary_publicity_network", "auditor"):
        client.force_login(demo_users(username))
        response = client.get(url)
        assert response.status_code == 200, username
        assert response["Content-Disposition"] == 'attachment; filename="plan.pdf"'
        assert b"".join(response.streaming_content) == PDF

    for username in ("finance.head", "research_office.head", "secretary_organisation"):
        client.force_login(demo_users(username))
        assert client.get(url).status_code == 404, username
    assert client.get(reverse("workflows:evidence", args=[999999])).status_code == 404
