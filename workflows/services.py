"""Every state change of a case goes through here: access checks, the flow, the audit trail.

Views, the API, management commands and Celery tasks call these functions; none of them
moves a viewflow task or writes a case row directly.
"""

import hashlib
import io
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from . import access, handoffs, lights, rag, supervision
from .audit import audit_record
from .bounds import clean_text
from .db_router import replica_reads
from .deadlines import deadline_caps_follow, due_fields_for_new_task
from .models import (
    Aspect,
    Case,
    Comment,
    Department,
    Evidence,
    LeaderRole,
    Measure,
    Organisation,
    Outcome,
    Profile,
    ProgressUpdate,
    Rag,
    Report,
    ReportKind,
    ReportStatus,
    StepKind,
    StepTemplate,
    WorkItem,
    WorkItemStatus,
)

logger = logging.getLogger(__name__)


class TaskConflict(Exception):
    """The task is no longer open (someone else decided first); maps to HTTP 409."""


class ReasonRequired(ValidationError):
    """A return, reassignment or override was asked for without a reason; maps to HTTP 400."""


class FileGone(Exception):
    """A recorded evidence or report file is missing from storage (a 410 page); the attempt
    is audited (`file_missing`)."""


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
    cap = case.deadline_cap
    due = due_fields_for_new_task(step=step, opened_at=timezone.now(), cap=cap)
    capped_from = due.pop("capped_from", None)
    item = WorkItem.objects.create(
        **due,
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
        data={
            "step": step.key,
            "kind": step.kind,
            "assignee": _username(task.owner),
            "due_at": item.due_at,
            # Present when the parent case's deadline cut this task's own due date short.
            **({"deadline_cap": cap, "capped_from": capped_from} if capped_from else {}),
        },
    )
    if task.owner is not None:
        audit_record(
            verb="task_assigned", case=case, work_item=item, data={"to": task.owner.username}
        )
    # A new step moves the case's projected overall deadline: its cascaded children follow.
    deadline_caps_follow(cases=[case.pk], reason=f"parent case's step {step.key} opened")
    handoffs.task_opened(item=item)
    return item


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


# --------------------------------------------------------------------------- launching


def case_prepare(
    *,
    case: Case,
    measure: Measure,
    organisation: Organisation,
    by,
    parent_case: Case | None = None,
    deadline_cap=None,
) -> Case:
    """Fill a new case's fields before the flow saves it (called from the flow's start node)."""
    case.measure = measure
    case.organisation = organisation
    case.launched_by = by
    case.parent_case = parent_case
    case.deadline_cap = deadline_cap
    try:
        case.lead_department = Department.objects.get(
            organisation=organisation, key=measure.lead_department.key
        )
        case.supervising_leader = LeaderRole.objects.get(
            organisation=organisation, key=measure.supervising_leader.key
        )
    except (Department.DoesNotExist, LeaderRole.DoesNotExist) as exc:
        raise ValidationError(
            f"{organisation.title_en} has no {measure.lead_department.key} department or "
            f"{measure.supervising_leader.key} leader role; give it its departments and roles "
            "first (workflows.organisations.organisation_roles_copy)."
        ) from exc
    case.current_step = measure.steps.order_by("position").first()
    if case.current_step is None:
        raise ValidationError(f"measure {measure.code} has no steps")
    return case


def case_launch(
    *,
    measure: Measure,
    by,
    organisation: Organisation | None = None,
    parent_case: Case | None = None,
    deadline_cap=None,
):
    """Start the measure's case; returns (case, created). Never two open cases per organisation.

    `parent_case` and `deadline_cap` are set by cascading (workflows.cascade).
    """
    from .flows import MeasureFlow

    organisation = organisation or Organisation.national()
    if by is not None:
        access.check_can_coordinate(by, organisation)
    existing = Case.objects.filter(measure=measure, organisation=organisation, is_open=True).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            case = MeasureFlow.start.run(
                measure=measure,
                organisation=organisation,
                launched_by=by,
                parent_case=parent_case,
                deadline_cap=deadline_cap,
            )
            data = {"measure": measure.code, "organisation": organisation.code}
            if parent_case is not None:
                data.update(parent_case=parent_case.pk, deadline_cap=deadline_cap)
            audit_record(verb="case_launched", actor=by, case=case, data=data)
            lights.case_lights_refresh(case=case)
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
        _check_completion_guard(item)
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
        # The one place a task ends: extension requests still pending on it end with it.
        supervision.extension_requests_lapse(item=item, by=user, now=now)
        if task.status == STATUS.NEW:
            task.owner = user
            task.status = STATUS.ASSIGNED
            task.assigned = now
            task.save(update_fields=["owner", "status", "assigned"])
        activation.start(None)
        activation.execute()
        if next_step is None:
            audit_record(verb="case_completed", actor=user, case=case)
            report_queue_completion(case=case)
            if case.parent_case_id is not None:
                # Reported up: the parent case's timeline and roll-up show the child done.
                audit_record(
                    verb="child_completed",
                    actor=user,
                    case=case.parent_case,
                    data={"child_case": case.pk, "organisation": case.organisation.code},
                )
        light = lights.case_lights_refresh(case=case, now=now)
        rag.case_rag_settle(case=case, light=light, outcome=outcome)  # issue 17
    return item


def _already_done_message(item: WorkItem) -> str:
    by = f" by {item.completed_by.get_username()}" if item.completed_by_id else ""
    return f"This task is already {item.get_status_display().lower()}{by}; nothing was changed."


def task_approve(*, item: WorkItem, user, comment: str = "") -> WorkItem:
    """Approve an approval, review or sign-off step; the case moves to its next step."""
    if item.kind not in _RETURNABLE_KINDS:
        raise ValidationError(f"a {item.kind} step is completed, not approved")
    with transaction.atomic():
        item = _finish(
            user,
            item,
            outcome=Outcome.APPROVED,
            note=clean_text(comment).strip(),
            next_step=_next_step(item.case, item.step),
        )
        handoffs.work_decided(item=item)
    return item


def task_return(*, item: WorkItem, user, reason: str) -> WorkItem:
    """Send the work back to the step that produced it; a reason is required."""
    reason = clean_text(reason)
    if not reason.strip():
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


def open_child_count(case: Case) -> int:
    """How many cases cascaded from this one are still open."""
    return Case.objects.filter(parent_case=case, is_open=True).count()


def _check_completion_guard(item: WorkItem) -> None:
    """An implementation step stays open while cascaded child cases are, unless overridden."""
    if item.kind != StepKind.IMPLEMENT or item.guard_overridden_by_id is not None:
        return
    still_open = open_child_count(item.case)
    if still_open:
        raise ValidationError(
            f"The implementation cannot be declared done while {still_open} child "
            f"case{'s are' if still_open != 1 else ' is'} still open; wait for them, or ask a "
            "coordinator to override with a reason."
        )


def task_complete_override(*, item: WorkItem, by, reason: str) -> WorkItem:
    """A coordinator lets an implementation step close although child cases are still open."""
    access.check_can_coordinate(by, item.case.organisation)
    if item.kind != StepKind.IMPLEMENT:
        raise ValidationError("Only an implementation step waits for child cases.")
    reason = clean_text(reason)
    if not reason.strip():
        raise ReasonRequired("A reason is required to override the completion guard.")
    with transaction.atomic():
        item = WorkItem.objects.select_for_update().select_related("case").get(pk=item.pk)
        if item.status != WorkItemStatus.OPEN:
            raise TaskConflict(_already_done_message(item))
        open_children = list(
            Case.objects.filter(parent_case=item.case, is_open=True)
            .order_by("organisation__code")
            .values_list("organisation__code", flat=True)
        )
        item.guard_overridden_by = by
        item.save(update_fields=["guard_overridden_by"])
        audit_record(
            verb="completion_guard_overridden",
            actor=by,
            case=item.case,
            work_item=item,
            reason=reason.strip(),
            data={"open_children": len(open_children), "organisations": open_children},
        )
    return item


def task_complete(*, item: WorkItem, user, note: str = "", percent: int | None = None) -> WorkItem:
    """Complete a submit, implement or review step (staff declare implementation done).

    An implementation step with open cascaded child cases refuses (ValidationError) unless a
    coordinator overrode the guard (task_complete_override).
    """
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
        note=clean_text(note).strip(),
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
    """A coordinator of the case's federation (or one above) hands an open task to someone who
    could act on its step (access.reassign_candidate_list), or back to its queue; the reason is
    recorded. Anyone else, and the producer of work under review, is refused with the reason."""
    access.check_can_coordinate(by, item.case.organisation)
    reason = clean_text(reason)
    if not reason.strip():
        raise ReasonRequired("A reason is required to reassign a task.")
    access.check_reassign_target(item, to_user)
    with item.task.activation():
        item.refresh_from_db()
        if item.status != WorkItemStatus.OPEN:
            raise TaskConflict(_already_done_message(item))
        access.check_reassign_target(item, to_user)
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
        handoffs.task_reassigned(item=item)
    return item


def progress_report(*, item: WorkItem, user, percent: int, note: str, files=()) -> ProgressUpdate:
    """Record a progress update (percent, narrative, evidence) on an open implementation step."""
    if item.kind != StepKind.IMPLEMENT:
        raise ValidationError("progress is reported on implementation steps")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
        raise ValidationError("percent must be a whole number between 0 and 100")
    note = clean_text(note)
    if not note.strip():
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
        lights.case_lights_refresh(case=case)
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


def comment_add(*, case: Case, user, text: str) -> Comment:
    """Add to the case's comment thread; anyone who can see the case, except auditors."""
    if access.is_auditor(user):
        raise PermissionDenied("Auditors have read-only access.")
    if not access.can_view_case(user, case):
        raise PermissionDenied("You cannot see this case.")
    text = clean_text(text)
    if not text.strip():
        raise ValidationError("A comment cannot be empty.")
    with transaction.atomic():
        comment = Comment.objects.create(case=case, author=user, text=text.strip())
        audit_record(verb="comment_added", actor=user, case=case, data={"text": comment.text})
    return comment


# --------------------------------------------------------------------------- reports


def _report_scope(
    *, kind: str, organisation: Organisation, case: Case | None = None, aspect=None
) -> str:
    if kind == ReportKind.COMPLETION:
        return f"case:{case.pk}"
    scope = f"aspect:{aspect.code}" if aspect is not None else "programme"
    # Each federation numbers its own programme reports; the national one's keep their name.
    return scope if organisation.parent_id is None else f"{scope}@{organisation.pk}"


def _report_create(
    *, kind: str, organisation: Organisation, case=None, aspect=None, by=None
) -> Report:
    """A queued report row numbered one above the scope's latest version (race-safe)."""
    scope = _report_scope(kind=kind, organisation=organisation, case=case, aspect=aspect)
    for _attempt in range(5):
        latest = Report.objects.filter(kind=kind, scope=scope).aggregate(v=Max("version"))["v"]
        try:
            with transaction.atomic():
                return Report.objects.create(
                    kind=kind,
                    scope=scope,
                    organisation=organisation,
                    case=case,
                    aspect=aspect,
                    version=(latest or 0) + 1,
                    requested_by=by if by is not None and by.is_authenticated else None,
                )
        except IntegrityError:
            continue  # a concurrent request took this version number; take the next one
    raise TaskConflict("Too many concurrent report requests; try again.")


def _report_enqueue(report_id: int) -> bool:
    """Hand the render to a worker; if the broker is down, the sweep re-sends it later."""
    from tasks.reports import render_report

    try:
        render_report.delay(report_id)
    except Exception:  # noqa: BLE001 - the row stays queued: report_list_recover finds it
        logger.warning("broker unavailable: report %s stays queued for the sweep", report_id)
        return False
    return True


def _report_queue(report: Report) -> None:
    report_id = report.pk
    # After commit, and never failing the request: the approval that completed the case is
    # saved whatever the broker's state.
    transaction.on_commit(lambda: _report_enqueue(report_id))


def report_list_recover(*, now=None) -> int:
    """Re-send reports a broker outage or a dead worker left behind; returns how many.

    Queued reports older than a minute were never picked up (the broker was down, or the
    message was lost). A report still "rendering" after the hard time limit belongs to a
    worker that died: it goes back to queued, and no partial file is ever marked ready.
    """
    now = now or timezone.now()
    stale = now - timezone.timedelta(seconds=settings.REPORT_RENDER_STALE_SECONDS)
    Report.objects.filter(status=ReportStatus.RENDERING, as_of__lt=stale).update(
        status=ReportStatus.QUEUED, progress=0
    )
    waiting = Report.objects.filter(
        status=ReportStatus.QUEUED, created_at__lt=now - timezone.timedelta(minutes=1)
    ).values_list("pk", flat=True)
    sent = 0
    for report_id in waiting:
        sent += _report_enqueue(report_id)
    return sent


def report_queue_completion(*, case: Case, by=None) -> Report:
    """Queue the next version of a completed case's completion report; renders after commit."""
    if case.is_open:
        raise ValidationError("A completion report is made once the case is complete.")
    with transaction.atomic():
        report = _report_create(
            kind=ReportKind.COMPLETION, organisation=case.organisation, case=case, by=by
        )
        _report_queue(report)
    return report


def report_request_completion(*, case: Case, by) -> Report:
    """A coordinator asks for a new version of a completed case's completion report."""
    access.check_can_coordinate(by, case.organisation)
    with transaction.atomic():
        report = report_queue_completion(case=case, by=by)
        audit_record(
            verb="report_requested",
            actor=by,
            case=case,
            data={"report": report.pk, "kind": report.kind, "version": report.version},
        )
    return report


def report_request_programme(*, by, aspect: Aspect | None = None) -> Report:
    """Queue a programme progress report (whole programme or one aspect) of the requester's own
    federation, as of rendering time."""
    access.check_can_request_programme_report(by)
    organisation = access.organisation_default(by)
    with transaction.atomic():
        report = _report_create(
            kind=ReportKind.PROGRAMME, organisation=organisation, aspect=aspect, by=by
        )
        audit_record(
            verb="report_requested",
            actor=by,
            data={
                "report": report.pk,
                "kind": report.kind,
                "scope": report.scope,
                "organisation": organisation.code,
                "version": report.version,
            },
        )
        _report_queue(report)
    return report


def _report_progress(report_id: int, percent: int) -> None:
    # Outside any transaction (the renderer holds none), so the desk's polling sees it at once.
    Report.objects.filter(pk=report_id, status=ReportStatus.RENDERING).update(progress=percent)


def _report_language(report: Report) -> str:
    profile = getattr(report.requested_by, "profile", None) if report.requested_by_id else None
    return getattr(profile, "language", "") or settings.LANGUAGE_CODE


def report_render(*, report_id: int) -> Report | None:
    """Render a queued report, store the PDF under its SHA-256 and mark it ready (or failed).

    Returns None when the report is not queued (already rendered, or taken by another worker).
    A completion report then finishes the case's flow (its `completion_report` node).
    """
    from .report_data import report_data_collect
    from .reports import report_pdf

    as_of = timezone.now()
    # A redelivered message (its worker died) may reclaim a render that has gone stale.
    stale = as_of - timezone.timedelta(seconds=settings.REPORT_RENDER_STALE_SECONDS)
    claimed = (
        Report.objects.filter(pk=report_id)
        .filter(Q(status=ReportStatus.QUEUED) | Q(status=ReportStatus.RENDERING, as_of__lt=stale))
        .update(status=ReportStatus.RENDERING, progress=5, as_of=as_of)
    )
    if not claimed:
        return None
    report = Report.objects.select_related(
        "case", "aspect", "organisation", "requested_by__profile"
    ).get(pk=report_id)
    try:
        with translation.override(_report_language(report)):
            # The report's data from the replica once it has replayed every commit so far.
            with replica_reads(caught_up=True):
                data = report_data_collect(
                    report, as_of=as_of, on_progress=lambda p: _report_progress(report_id, p)
                )
            pdf = report_pdf(data, on_progress=lambda p: _report_progress(report_id, p))
        with transaction.atomic():
            _report_store(report, pdf)
            if report.kind == ReportKind.COMPLETION:
                _completion_flow_finish(report.case)
    except Exception as exc:
        logger.exception("report %s failed to render", report_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with transaction.atomic():
            Report.objects.filter(pk=report_id).update(status=ReportStatus.FAILED, error=error)
            audit_record(
                verb="report_render_failed",
                actor=report.requested_by,
                case=report.case,
                data={
                    "report": report.pk,
                    "kind": report.kind,
                    "scope": report.scope,
                    "version": report.version,
                    "error": error,
                },
            )
        report.refresh_from_db()
        return report
    _report_ready_mail(report)
    return report


def _report_store(report: Report, pdf: bytes) -> None:
    digest = hashlib.sha256(pdf).hexdigest()
    name = f"reports/{digest[:2]}/{digest}.pdf"
    # Content-addressed: an existing file of this name holds these very bytes, so it is
    # reused as is, and a stored report file is never written over.
    if default_storage.exists(name) and not _stored_file_matches(name, digest):
        # A worker killed mid-write left a partial file under this name: it is not a report.
        default_storage.delete(name)
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(pdf))
    report.file.name = name
    report.sha256 = digest
    report.size = len(pdf)
    report.status = ReportStatus.READY
    report.progress = 100
    report.finished_at = timezone.now()
    report.error = ""
    report.save(
        update_fields=["file", "sha256", "size", "status", "progress", "finished_at", "error"]
    )
    audit_record(
        verb="report_generated",
        actor=report.requested_by,
        case=report.case,
        data={
            "report": report.pk,
            "kind": report.kind,
            "scope": report.scope,
            "version": report.version,
            "sha256": digest,
            "size": len(pdf),
        },
    )


def _stored_file_matches(name: str, digest: str) -> bool:
    sha = hashlib.sha256()
    with default_storage.open(name, "rb") as stored:
        for chunk in iter(lambda: stored.read(1 << 16), b""):
            sha.update(chunk)
    return sha.hexdigest() == digest


def _completion_flow_finish(case: Case) -> None:
    """Run the case's waiting `completion_report` node, so the flow reaches its end."""
    from .flows import MeasureFlow

    task = Task.objects.filter(
        process=case, flow_task=MeasureFlow.completion_report, status=STATUS.NEW
    ).first()
    if task is not None:  # a later version finds the flow already finished
        MeasureFlow.completion_report.run(task)


def _report_ready_mail(report: Report) -> None:
    user = report.requested_by
    if user is None or not user.email:
        return
    context = {
        "report": report,
        "user": user,
        "url": settings.SITE_URL.rstrip("/")
        + reverse("workflows:report_download", args=[report.pk]),
    }
    with translation.override(_report_language(report)):
        subject = render_to_string("emails/report_ready.subject.txt", context).strip()
        body = render_to_string("emails/report_ready.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # the report is ready whatever the mail server says
        logger.exception("could not mail report %s to %s", report.pk, user.get_username())


def report_open_for_download(*, report: Report, user):
    """Open a ready report's file for the user and audit the download; PermissionDenied if not."""
    if not access.can_view_report(user, report):
        raise PermissionDenied("You cannot see this report.")
    if report.status != ReportStatus.READY or not report.file:
        raise ValidationError("This report is not ready yet.")
    handle = _stored_file_open(
        report.file,
        user=user,
        case=report.case,
        data={"report": report.pk, "kind": report.kind, "sha256": report.sha256},
    )
    audit_record(
        verb="report_downloaded",
        actor=user,
        case=report.case,
        data={"report": report.pk, "kind": report.kind, "version": report.version},
    )
    return handle


def evidence_open_for_download(*, evidence: Evidence, user):
    """Open an evidence file for a user who may see its case and audit the download;
    PermissionDenied if not, FileGone if the stored file is missing."""
    if not access.can_view_case(user, evidence.case):
        raise PermissionDenied("You cannot see this case.")
    data = {"evidence": evidence.pk, "name": evidence.original_name, "sha256": evidence.sha256}
    handle = _stored_file_open(
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


def _stored_file_open(field_file, *, user, case, data: dict, work_item=None):
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


def user_by_username(username: str):
    """The active user with this username, or ValidationError."""
    try:
        return get_user_model().objects.get(username=username, is_active=True)
    except get_user_model().DoesNotExist as exc:
        raise ValidationError(f"No active user named {username!r}.") from exc


def notification_mode_set(*, user, mode: str) -> bool:
    """A person chooses immediate mail or the daily digest for themselves (auditors too: it
    is their own inbox, not case data). Returns whether anything changed; a change is audited.
    """
    with transaction.atomic():
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        if profile.notification_mode == mode:
            return False
        old, profile.notification_mode = profile.notification_mode, mode
        profile.save(update_fields=["notification_mode"])
        audit_record(verb="notification_mode_changed", actor=user, data={"from": old, "to": mode})
    return True


def profile_language_set(*, user, language: str) -> bool:
    """A person chooses the language of their pages and mail (auditors too: their own
    setting). Returns whether anything changed; a change is audited."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"Not an offered language: {language[:20]!r}."})
    with transaction.atomic():
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        if profile.language == language:
            return False
        old, profile.language = profile.language, language
        profile.save(update_fields=["language"])
        audit_record(verb="language_changed", actor=user, data={"from": old, "to": language})
    return True
