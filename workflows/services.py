"""Every state change of a case goes through here: access checks, the flow, the audit trail.

Views, the API, management commands and Celery tasks call these functions; none of them
moves a viewflow task or writes a case row directly.
"""

import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from viewflow.workflow.status import STATUS

from . import access
from .audit import audit_record
from .models import (
    Case,
    Comment,
    Department,
    Evidence,
    LeaderRole,
    Measure,
    Organisation,
    Outcome,
    ProgressUpdate,
    Rag,
    StepKind,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)


class TaskConflict(Exception):
    """The task is no longer open (someone else decided first); maps to HTTP 409."""


class ReasonRequired(ValidationError):
    """A return, reassignment or override was asked for without a reason; maps to HTTP 400."""


_PRODUCING_KINDS = (StepKind.SUBMIT, StepKind.IMPLEMENT)
_RETURNABLE_KINDS = (StepKind.APPROVE, StepKind.REVIEW, StepKind.SIGN_OFF)


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class Routing:
    department: Department | None = None
    leader_role: LeaderRole | None = None
    for_head: bool = False

    @property
    def single_holder(self):
        if self.leader_role is not None:
            return self.leader_role.holder
        if self.for_head and self.department is not None:
            return self.department.head
        return None


def step_routing(*, case: Case, step: StepTemplate) -> Routing:
    """Resolve a step's role to a department queue, a department head or a leader role."""
    role = step.role
    if role.key == "lead_department_staff":
        return Routing(department=case.lead_department)
    if role.key == "lead_department_head":
        return Routing(department=case.lead_department, for_head=True)
    if role.key == "supervising_leader":
        return Routing(leader_role=case.supervising_leader)
    if role.department_key:
        # research_office, secretariat and any role an admin adds that names a department:
        # the head of that department in the case's own organisation.
        department = Department.objects.get(organisation=case.organisation, key=role.department_key)
        return Routing(department=department, for_head=True)
    raise ValueError(f"step role {role.key!r} names no department and is not a built-in role")


def _previous_producer(case: Case):
    """Who completed the latest producing (submit/implement) step: the work now under review."""
    last = (
        case.work_items.filter(status=WorkItemStatus.DONE, kind__in=_PRODUCING_KINDS)
        .order_by("-finished_at", "-pk")
        .only("completed_by")
        .first()
    )
    return last.completed_by if last else None


def step_assignee(*, case: Case):
    """The user a new task goes to straight away, or None to leave it in a queue."""
    step = case.current_step
    if step is None:
        return None
    routing = step_routing(case=case, step=step)
    if routing.single_holder is not None:
        return routing.single_holder
    if step.kind in _PRODUCING_KINDS:
        # Work returned for rework goes back to the person who did it, if still on staff.
        earlier = (
            case.work_items.filter(step=step, status=WorkItemStatus.DONE)
            .order_by("-finished_at")
            .first()
        )
        if earlier and earlier.completed_by_id and routing.department is not None:
            if routing.department.staff.filter(pk=earlier.completed_by_id).exists():
                return earlier.completed_by
    return None


def work_item_open(*, task, case: Case) -> WorkItem:
    """Create the WorkItem for a new human task (called by the flow when a task is created)."""
    step = case.current_step
    routing = step_routing(case=case, step=step)
    item = WorkItem.objects.create(
        task=task,
        case=case,
        step=step,
        kind=step.kind,
        department=routing.department,
        leader_role=routing.leader_role,
        for_head=routing.for_head,
        assignee=task.owner,
        produced_by=_previous_producer(case) if step.kind in _RETURNABLE_KINDS else None,
    )
    audit_record(
        verb="task_created",
        case=case,
        work_item=item,
        data={"step": step.key, "kind": step.kind, "assignee": _username(task.owner)},
    )
    if task.owner is not None:
        audit_record(
            verb="task_assigned", case=case, work_item=item, data={"to": task.owner.username}
        )
    return item


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


# --------------------------------------------------------------------------- launching


def case_prepare(*, case: Case, measure: Measure, organisation: Organisation, by) -> Case:
    """Fill a new case's fields before the flow saves it (called from the flow's start node)."""
    case.measure = measure
    case.organisation = organisation
    case.launched_by = by
    case.lead_department = Department.objects.get(
        organisation=organisation, key=measure.lead_department.key
    )
    case.supervising_leader = LeaderRole.objects.get(
        organisation=organisation, key=measure.supervising_leader.key
    )
    case.current_step = measure.steps.order_by("position").first()
    if case.current_step is None:
        raise ValidationError(f"measure {measure.code} has no steps")
    return case


def case_launch(*, measure: Measure, by, organisation: Organisation | None = None):
    """Start the measure's case; returns (case, created). Never two open cases per organisation."""
    from .flows import MeasureFlow

    if by is not None:
        access.check_can_coordinate(by)
    organisation = organisation or Organisation.national()
    existing = Case.objects.filter(measure=measure, organisation=organisation, is_open=True).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            case = MeasureFlow.start.run(measure=measure, organisation=organisation, launched_by=by)
            audit_record(
                verb="case_launched",
                actor=by,
                case=case,
                data={"measure": measure.code, "organisation": organisation.code},
            )
    except IntegrityError:
        # A concurrent launch won the partial unique index; return its case.
        existing = Case.objects.filter(measure=measure, organisation=organisation, is_open=True)
        return existing.get(), False
    return case, True


# --------------------------------------------------------------------------- acting on tasks


def _next_step(case: Case, step: StepTemplate) -> StepTemplate | None:
    return case.measure.steps.filter(position__gt=step.position).order_by("position").first()


def _producing_step_before(case: Case, step: StepTemplate) -> StepTemplate:
    producer = (
        case.measure.steps.filter(position__lt=step.position, kind__in=_PRODUCING_KINDS)
        .order_by("-position")
        .first()
    )
    if producer is None:
        raise ValidationError(f"step {step.key} has no earlier step to return the work to")
    return producer


def _percent(case: Case, *, step: StepTemplate, step_percent: int = 100) -> int:
    """Weighted by working days: steps before `step` count fully, `step` by its own percent."""
    steps = list(case.measure.steps.values_list("position", "working_days"))
    total = sum(days for _, days in steps) or 1
    before = sum(days for position, days in steps if position < step.position)
    return min(100, round(100 * (before + step.working_days * step_percent / 100) / total))


def _finish(user, item: WorkItem, *, outcome: str, note: str, next_step, percent=None):
    """Complete the viewflow task under the process lock and move the case on."""
    task = item.task
    with task.activation() as activation:
        item.refresh_from_db()
        if item.status != WorkItemStatus.OPEN or task.status in (STATUS.DONE, STATUS.CANCELED):
            raise TaskConflict(_already_done_message(item))
        access.check_can_act(user, item)
        case: Case = activation.process
        now = timezone.now()
        item.status = WorkItemStatus.DONE
        item.outcome = outcome
        item.decision_note = note
        item.completed_by = user
        item.assignee = user
        item.finished_at = now
        if percent is not None:
            item.percent = percent
        item.save()
        case.current_step = next_step
        if outcome == Outcome.RETURNED:
            case.rag = Rag.AMBER
        else:
            case.percent_complete = _percent(case, step=item.step)
        if next_step is None:
            case.is_open = False
            case.percent_complete = 100
        case.save(update_fields=["current_step", "rag", "percent_complete", "is_open"])
        audit_record(
            verb=outcome,
            actor=user,
            case=case,
            work_item=item,
            reason=note if outcome == Outcome.RETURNED else "",
            data={"step": item.step.key, "note": note, "percent": item.percent},
        )
        if task.status == STATUS.NEW:
            task.owner = user
            task.status = STATUS.ASSIGNED
            task.assigned = now
            task.save(update_fields=["owner", "status", "assigned"])
        activation.start(None)
        activation.execute()
        if next_step is None:
            audit_record(verb="case_completed", actor=user, case=case)
    return item


def _already_done_message(item: WorkItem) -> str:
    by = f" by {item.completed_by.get_username()}" if item.completed_by_id else ""
    return f"This task is already {item.get_status_display().lower()}{by}; nothing was changed."


def task_approve(*, item: WorkItem, user, comment: str = "") -> WorkItem:
    """Approve an approval, review or sign-off step; the case moves to its next step."""
    if item.kind not in _RETURNABLE_KINDS:
        raise ValidationError(f"a {item.kind} step is completed, not approved")
    return _finish(
        user,
        item,
        outcome=Outcome.APPROVED,
        note=comment.strip(),
        next_step=_next_step(item.case, item.step),
    )


def task_return(*, item: WorkItem, user, reason: str) -> WorkItem:
    """Send the work back to the step that produced it; a reason is required."""
    if not (reason or "").strip():
        raise ReasonRequired("A reason is required to return work for rework.")
    if item.kind not in _RETURNABLE_KINDS:
        raise ValidationError(f"a {item.kind} step cannot return work")
    return _finish(
        user,
        item,
        outcome=Outcome.RETURNED,
        note=reason.strip(),
        next_step=_producing_step_before(item.case, item.step),
    )


def task_complete(*, item: WorkItem, user, note: str = "", percent: int | None = None) -> WorkItem:
    """Complete a submit, implement or review step (staff declare implementation done)."""
    if item.kind not in (StepKind.SUBMIT, StepKind.IMPLEMENT, StepKind.REVIEW):
        raise ValidationError(f"a {item.kind} step is approved or returned, not completed")
    if percent is not None and not 0 <= percent <= 100:
        raise ValidationError("percent must be between 0 and 100")
    outcome = Outcome.SUBMITTED if item.kind == StepKind.SUBMIT else Outcome.COMPLETED
    if item.kind == StepKind.IMPLEMENT:
        percent = 100
    return _finish(
        user,
        item,
        outcome=outcome,
        note=(note or "").strip(),
        next_step=_next_step(item.case, item.step),
        percent=percent,
    )


def task_submit(*, item: WorkItem, user, note: str, files=()) -> WorkItem:
    """Submit a plan or opinion with its attachments; files and submission commit together."""
    if item.kind != StepKind.SUBMIT:
        raise ValidationError(f"a {item.kind} step is not submitted")
    for upload in files:
        evidence_validate(upload)
    with transaction.atomic():
        item = task_complete(item=item, user=user, note=note)
        for upload in files:
            _evidence_store(case=item.case, item=item, user=user, upload=upload)
    return item


def task_claim(*, item: WorkItem, user) -> WorkItem:
    """Take a task from a queue the user serves."""
    with item.task.activation():
        item.refresh_from_db()
        if item.status != WorkItemStatus.OPEN:
            raise TaskConflict(_already_done_message(item))
        if item.assignee_id == user.pk:
            return item
        if item.assignee_id is not None:
            raise TaskConflict(f"Already taken by {item.assignee.get_username()}.")
        access.check_can_act(user, item)
        _set_owner(item, user)
        audit_record(verb="task_claimed", actor=user, case=item.case, work_item=item)
    return item


def _set_owner(item: WorkItem, user) -> None:
    item.assignee = user
    item.save(update_fields=["assignee"])
    task = item.task
    task.owner = user
    task.status = STATUS.ASSIGNED if user is not None else STATUS.NEW
    task.assigned = timezone.now() if user is not None else None
    task.save(update_fields=["owner", "status", "assigned"])


def task_reassign(*, item: WorkItem, by, to_user, reason: str) -> WorkItem:
    """A coordinator hands an open task to someone else; the reason is recorded."""
    access.check_can_coordinate(by)
    if not (reason or "").strip():
        raise ReasonRequired("A reason is required to reassign a task.")
    if to_user is not None and access.is_auditor(to_user):
        raise ValidationError("Auditors cannot be given tasks.")
    with item.task.activation():
        item.refresh_from_db()
        if item.status != WorkItemStatus.OPEN:
            raise TaskConflict(_already_done_message(item))
        previous = _username(item.assignee)
        _set_owner(item, to_user)
        audit_record(
            verb="task_reassigned",
            actor=by,
            case=item.case,
            work_item=item,
            reason=reason.strip(),
            data={"from": previous, "to": _username(to_user)},
        )
    return item


def progress_report(*, item: WorkItem, user, percent: int, note: str, files=()) -> ProgressUpdate:
    """Record a progress update (percent, narrative, evidence) on an open implementation step."""
    if item.kind != StepKind.IMPLEMENT:
        raise ValidationError("progress is reported on implementation steps")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ValidationError("percent must be a whole number between 0 and 100")
    if not (note or "").strip():
        raise ValidationError("a progress note is required")
    with transaction.atomic():
        item = WorkItem.objects.select_for_update().get(pk=item.pk)
        if item.status != WorkItemStatus.OPEN:
            raise TaskConflict(_already_done_message(item))
        access.check_can_act(user, item)
        for upload in files:
            evidence_validate(upload)
        update = ProgressUpdate.objects.create(
            case=item.case, work_item=item, author=user, percent=percent, note=note.strip()
        )
        item.percent = percent
        item.save(update_fields=["percent"])
        case = item.case
        # 100 % is reached only when staff declare the step done, not by reporting progress.
        case.percent_complete = min(99, _percent(case, step=item.step, step_percent=percent))
        case.save(update_fields=["percent_complete"])
        for upload in files:
            _evidence_store(case=case, item=item, user=user, upload=upload)
        audit_record(
            verb="progress_reported",
            actor=user,
            case=case,
            work_item=item,
            data={"percent": percent, "note": note.strip()},
        )
    return update


# --------------------------------------------------------------------------- evidence, comments


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


def _what_it_is(data: bytes) -> str:
    for prefix, label in _KNOWN_SIGNATURES:
        if data.startswith(prefix):
            return label
    return ""


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
    return _evidence_store(case=case, item=item, user=user, upload=upload)


def _evidence_store(*, case: Case, item: WorkItem, user, upload) -> Evidence:
    """Store an already checked upload under its SHA-256 and audit it."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    evidence = Evidence(
        case=case,
        work_item=item,
        original_name=PurePath(upload.name).name[:255],
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


def comment_add(*, case: Case, user, text: str) -> Comment:
    """Add to the case's comment thread; anyone who can see the case, except auditors."""
    if access.is_auditor(user):
        raise PermissionDenied("Auditors have read-only access.")
    if not access.can_view_case(user, case):
        raise PermissionDenied("You cannot see this case.")
    if not (text or "").strip():
        raise ValidationError("A comment cannot be empty.")
    with transaction.atomic():
        comment = Comment.objects.create(case=case, author=user, text=text.strip())
        audit_record(verb="comment_added", actor=user, case=case, data={"text": comment.text})
    return comment


def user_by_username(username: str):
    """The active user with this username, or ValidationError."""
    try:
        return get_user_model().objects.get(username=username, is_active=True)
    except get_user_model().DoesNotExist as exc:
        raise ValidationError(f"No active user named {username!r}.") from exc
