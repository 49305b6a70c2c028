"""Evidence files: what an upload really is (by its bytes, not its name), storing it against
the task, and opening it again for someone who may see the case.
"""

import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat

from workflows.audit.files import stored_file_open
from workflows.audit.trail import audit_record
from workflows.common import reach as access
from workflows.common.bounds import clean_text
from workflows.models import (
    Case,
    Evidence,
    WorkItem,
)

# What a file of each allowed extension must contain. The extension is the user's claim; the
# bytes are checked against it, so a renamed program or macro workbook is refused.
_OOXML_MAIN_PARTS = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}


# Leading bytes of common kinds, to tell the user what the file really is.
_KNOWN_SIGNATURES = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xca\xfe\xba\xbe", "a Java class or macOS program"),
    (b"#!", "a script"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document"),
    (b"GIF8", "a GIF image"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)


def _read_all(upload) -> bytes:
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    return data


def _zip_content_types(data: bytes) -> str | None:
    """The [Content_Types].xml of an Office Open XML file, or None if it is not a valid one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            with archive.open("[Content_Types].xml") as part:
                # The manifest is small; a larger one is not an Office file (and not a zip bomb).
                return part.read(256 * 1024).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, NotImplementedError):
        return None


def _check_ooxml(suffix: str) -> Callable[[bytes], str]:
    def check(data: bytes) -> str:
        if not data.startswith(b"PK\x03\x04"):
            return "it is not a ZIP-based Office file"
        content_types = _zip_content_types(data)
        if content_types is None:
            return "it is a damaged or incomplete Office file"
        if _OOXML_MAIN_PARTS[suffix] not in content_types:
            # e.g. a macro-enabled workbook renamed to .xlsx, or a .docx renamed to .xlsx.
            return f"its content is not a {suffix} document (macro-enabled or another type?)"
        return ""

    return check


def _check_prefix(*prefixes: bytes, kind: str) -> Callable[[bytes], str]:
    def check(data: bytes) -> str:
        return "" if data.startswith(prefixes) else f"its content is not {kind}"

    return check


def _check_zip(data: bytes) -> str:
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "its content is not a ZIP archive"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.infolist()
    except zipfile.BadZipFile:
        return "it is a damaged ZIP archive"
    return ""


def _check_text(data: bytes) -> str:
    if b"\x00" in data:
        return "it contains binary data (NUL bytes), not text"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not UTF-8 text (save it as UTF-8)"
    return ""


def _what_it_is(data: bytes) -> str:
    for prefix, label in _KNOWN_SIGNATURES:
        if data.startswith(prefix):
            return label
    return ""


# One checker per allowed extension; an extension allowed in settings without a checker here
# is refused, so widening EVIDENCE_ALLOWED_TYPES needs a content rule first.
EVIDENCE_CONTENT_CHECKS: dict[str, Callable[[bytes], str]] = {
    ".pdf": _check_prefix(b"%PDF-", kind="a PDF document"),
    ".png": _check_prefix(b"\x89PNG\r\n\x1a\n", kind="a PNG image"),
    ".jpg": _check_prefix(b"\xff\xd8\xff", kind="a JPEG image"),
    ".jpeg": _check_prefix(b"\xff\xd8\xff", kind="a JPEG image"),
    ".docx": _check_ooxml(".docx"),
    ".xlsx": _check_ooxml(".xlsx"),
    ".pptx": _check_ooxml(".pptx"),
    ".zip": _check_zip,
    ".txt": _check_text,
    ".csv": _check_text,
}


def evidence_validate(upload) -> None:
    """Raise ValidationError, saying why, unless the upload's size, type and content are allowed."""
    name = PurePath(upload.name or "").name
    suffix = PurePath(name).suffix.lower()
    allowed = [t.lower() for t in settings.EVIDENCE_ALLOWED_TYPES]
    if not name:
        raise ValidationError("The file has no name.")
    if suffix not in allowed:
        raise ValidationError(
            f"“{name}” is a {suffix or 'file without an extension'}; "
            f"allowed types are {', '.join(allowed)}."
        )
    if upload.size > settings.EVIDENCE_MAX_BYTES:
        # filesizeformat, not whole MB: a limit below 1 MB must not read "the limit is 0 MB".
        raise ValidationError(
            f"“{name}” is {filesizeformat(upload.size)}; "
            f"the limit is {filesizeformat(settings.EVIDENCE_MAX_BYTES)}."
        )
    if upload.size == 0:
        raise ValidationError(f"“{name}” is empty.")
    check = EVIDENCE_CONTENT_CHECKS.get(suffix)
    if check is None:
        raise ValidationError(f"“{name}”: no content check is defined for {suffix} files.")
    data = _read_all(upload)
    problem = check(data)
    if problem:
        found = _what_it_is(data)
        detail = f"; it looks like {found}" if found else ""
        raise ValidationError(f"“{name}” was refused: {problem}{detail}.")


def evidence_add(*, case: Case, item: WorkItem, user, upload) -> Evidence:
    """Attach a file to an open task the user may act on; returns the stored Evidence row."""
    access.check_can_act(user, item)
    evidence_validate(upload)
    return evidence_store(case=case, item=item, user=user, upload=upload)


def evidence_store(*, case: Case, item: WorkItem, user, upload) -> Evidence:
    """Store an already checked upload under its SHA-256 and audit it."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    evidence = Evidence(
        case=case,
        work_item=item,
        original_name=clean_text(PurePath(upload.name).name)[:255],
        content_type=getattr(upload, "content_type", "") or "",
        size=upload.size,
        sha256=digest.hexdigest(),
        uploaded_by=user,
    )
    evidence.file.save("upload", ContentFile(upload.read()), save=False)
    evidence.save()
    audit_record(
        verb="evidence_added",
        actor=user,
        case=case,
        work_item=item,
        data={"name": evidence.original_name, "sha256": evidence.sha256, "size": evidence.size},
    )
    return evidence


def evidence_open_for_download(*, evidence: Evidence, user):
    """Open an evidence file for a user who may see its case and audit the download;
    PermissionDenied if not, FileGone if the stored file is missing."""
    if not access.can_view_case(user, evidence.case):
        raise PermissionDenied("You cannot see this case.")
    data = {"evidence": evidence.pk, "name": evidence.original_name, "sha256": evidence.sha256}
    handle = stored_file_open(
        evidence.file, user=user, case=evidence.case, work_item=evidence.work_item, data=data
    )
    audit_record(
        verb="evidence_downloaded",
        actor=user,
        case=evidence.case,
        work_item=evidence.work_item,
        data=data,
    )
    return handle
