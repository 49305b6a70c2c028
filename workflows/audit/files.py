"""Stored files against their records: every evidence file and every ready report's PDF is
read back and hashed, so a file lost or changed in storage is found before someone needs it
(`python manage.py verify_files`, like verify_audit for the chain)."""

import hashlib
import logging
from dataclasses import dataclass, field

from django.core.files.storage import default_storage

from workflows.audit.trail import audit_record
from workflows.models import Evidence, Report, ReportStatus

OK, MISSING, TAMPERED = "ok", "missing", "tampered"


@dataclass(frozen=True)
class FileProblem:
    kind: str  # "evidence" or "report"
    pk: int
    case_id: int | None
    name: str
    path: str
    problem: str  # MISSING or TAMPERED
    detail: str = ""

    def __str__(self) -> str:
        case = f", case {self.case_id}" if self.case_id else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.kind} {self.pk} ({self.name!r}{case}, {self.path}): {self.problem}{detail}"


@dataclass
class FileCheck:
    counts: dict = field(default_factory=lambda: {OK: 0, MISSING: 0, TAMPERED: 0})
    problems: list[FileProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def checked(self) -> int:
        return sum(self.counts.values())


def _digest(field_file) -> str:
    sha = hashlib.sha256()
    with field_file.open("rb") as stored:
        for chunk in iter(lambda: stored.read(1 << 16), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _check(result: FileCheck, kind: str, row, name: str) -> None:
    try:
        digest = _digest(row.file)
    except OSError as exc:  # FileNotFoundError, or storage that cannot be read
        status, detail = MISSING, type(exc).__name__
    else:
        status = OK if digest == row.sha256 else TAMPERED
        detail = f"recorded {row.sha256}, stored {digest}" if status == TAMPERED else ""
    result.counts[status] += 1
    if status != OK:
        result.problems.append(
            FileProblem(kind, row.pk, row.case_id, name, row.file.name, status, detail)
        )


def files_verify(*, by=None) -> FileCheck:
    """Hash every stored evidence and ready report file against its recorded SHA-256; the run
    and what it found are audited (`files_verified`)."""
    result = FileCheck()
    for evidence in Evidence.objects.order_by("pk").iterator(chunk_size=500):
        _check(result, "evidence", evidence, evidence.original_name)
    reports = Report.objects.filter(status=ReportStatus.READY).exclude(file="")
    reports = reports.select_related("case__measure", "aspect")
    for report in reports.order_by("pk").iterator(chunk_size=500):
        _check(result, "report", report, report.download_name)
    audit_record(
        verb="files_verified",
        actor=by,
        data={
            **result.counts,
            "problems": [
                {"kind": p.kind, "id": p.pk, "problem": p.problem} for p in result.problems[:100]
            ],
        },
    )
    return result


logger = logging.getLogger(__name__)


class FileGone(Exception):
    """A recorded evidence or report file is missing from storage (a 410 page); the attempt
    is audited (`file_missing`)."""


def stored_file_matches(name: str, digest: str) -> bool:
    sha = hashlib.sha256()
    with default_storage.open(name, "rb") as stored:
        for chunk in iter(lambda: stored.read(1 << 16), b""):
            sha.update(chunk)
    return sha.hexdigest() == digest


def stored_file_open(field_file, *, user, case, data: dict, work_item=None):
    """The stored file, open for reading; if storage cannot give it, the attempt is audited
    (`file_missing`, committed whatever the caller does next) and FileGone raised."""
    try:
        return field_file.open("rb")
    except OSError as exc:  # FileNotFoundError, or storage that cannot be read
        logger.error("stored file %s cannot be opened: %s", field_file.name, exc)
        audit_record(
            verb="file_missing",
            actor=user,
            case=case,
            work_item=work_item,
            data={**data, "file": field_file.name, "error": type(exc).__name__},
        )
        raise FileGone(field_file.name) from exc
