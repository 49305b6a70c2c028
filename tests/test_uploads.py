"""Evidence uploads through the task pages: size and type limits, hashing, storage and
access-checked downloads."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.casework import advance, claim, open_item_of, report_progress, submit, task_url
from workflows.cases import evidence as cases_evidence
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


# --------------------------------------------------------------------------- content checks


def _ooxml(main_content_type: str) -> bytes:
    """A minimal Office Open XML package whose manifest names `main_content_type`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Override PartName="/main.xml" ContentType="{main_content_type}"/></Types>',
        )
        archive.writestr("main.xml", "<doc/>")
    return buffer.getvalue()


DOCX = _ooxml("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
XLSX = _ooxml("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
XLSM = _ooxml("application/vnd.ms-excel.sheet.macroEnabled.main+xml")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 60


@pytest.mark.parametrize(
    "name, content",
    [
        ("plan.pdf", PDF),
        ("photo.png", PNG),
        ("photo.jpg", JPEG),
        ("plan.docx", DOCX),
        ("budget.xlsx", XLSX),
        ("figures.csv", "区,人数\n东城,12\n".encode()),
        ("notes.txt", "会议纪要 minutes".encode()),
        ("bundle.zip", DOCX),
    ],
)
def test_files_whose_content_matches_their_type_are_accepted(name, content, settings):
    settings.EVIDENCE_MAX_BYTES = 1024 * 1024
    cases_evidence.evidence_validate(SimpleUploadedFile(name, content))


@pytest.mark.parametrize(
    "name, content, why",
    [
        ("plan.pdf", EXE, "its content is not a PDF document; it looks like a Windows program"),
        ("photo.png", JPEG, "its content is not a PNG image; it looks like a JPEG image"),
        ("photo.jpg", PDF, "its content is not a JPEG image; it looks like a PDF document"),
        ("plan.docx", PDF, "it is not a ZIP-based Office file; it looks like a PDF document"),
        ("plan.docx", XLSX, "its content is not a .docx document"),
        ("budget.xlsx", XLSM, "its content is not a .xlsx document"),
        ("budget.xlsx", b"PK\x03\x04truncated", "it is a damaged or incomplete Office file"),
        ("notes.txt", b"abc\x00def", "it contains binary data (NUL bytes), not text"),
        ("figures.csv", "名单".encode("gb18030"), "it is not UTF-8 text"),
        ("bundle.zip", EXE, "its content is not a ZIP archive; it looks like a Windows program"),
    ],
)
def test_files_whose_content_does_not_match_their_type_are_refused_saying_why(
    name, content, why, settings
):
    settings.EVIDENCE_MAX_BYTES = 1024 * 1024
    with pytest.raises(ValidationError) as refused:
        cases_evidence.evidence_validate(SimpleUploadedFile(name, content))

    [message] = refused.value.messages
    assert message.startswith(f"“{name}” was refused: ") and why in message, message


def test_an_allowed_extension_without_a_content_rule_is_refused(settings):
    settings.EVIDENCE_ALLOWED_TYPES = [".pdf", ".odt"]
    with pytest.raises(ValidationError, match="no content check is defined for .odt"):
        cases_evidence.evidence_validate(SimpleUploadedFile("plan.odt", b"PK\x03\x04"))


def test_a_renamed_program_is_refused_on_the_task_page_and_nothing_is_stored(client, media, draft):
    item, staff = draft
    renamed = SimpleUploadedFile("annual-plan.pdf", EXE, "application/pdf")

    response = submit(client, staff, item, "Plan.", files=[renamed])

    assert response.status_code == 200
    assert _field_errors(response) == [
        "“annual-plan.pdf” was refused: its content is not a PDF document; "
        "it looks like a Windows program."
    ]
    item.refresh_from_db()
    assert item.is_open and not Evidence.objects.exists() and _stored_files(media) == []


def test_evidence_is_downloaded_as_an_attachment_that_browsers_must_not_sniff(
    client, demo_users, media, draft
):
    item, staff = draft
    submit(client, staff, item, "Plan.", files=[SimpleUploadedFile("plan.pdf", PDF)])
    client.force_login(demo_users("network_work.head"))

    response = client.get(reverse("workflows:evidence", args=[Evidence.objects.get().pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
