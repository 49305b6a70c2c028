"""Every state change of a case goes through here: access checks, the flow, the audit trail.

Views, the API, management commands and Celery tasks call these functions; none of them
moves a viewflow task or writes a case row directly.
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from viewflow.workflow.status import STATUS

from workflows.audit.trail import audit_record
from workflows.cases import rag
from workflows.cases.evidence import (
    evidence_store,
    evidence_validate,
)
from workflows.cases.routing import username_of
from workflows.common import reach as access
from workflows.common import reassignment
from workflows.common.bounds import clean_text
from workflows.common.errors import ReasonRequired, TaskConflict
from workflows.models import (
    COMPLETED_KINDS,
    DECIDED_KINDS,
    PRODUCING_KINDS,
    Case,
    Comment,
    Department,
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
from workflows.notifications import handoffs
from workflows.reports.services import report_queue_completion
from workflows.supervision import extensions, lights

logger = logging.getLogger(__name__)


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
            "first (workflows.organisations.services.organisation_roles_copy)."
        ) from exc
    case.current_step = measure.steps.order_by("position").first()
    if case.current_step is None:
        raise ValidationError(f"measure {measure.code} has no steps")
    return case


# --------------------------------------------------------------------------- acting on tasks


def _next_step(case: Case, step: StepTemplate) -> StepTemplate | None:
    return case.measure.steps.filter(position__gt=step.position).order_by("position").first()


def _producing_step_before(case: Case, step: StepTemplate) -> StepTemplate:
    producer = (
        case.measure.steps.filter(position__lt=step.position, kind__in=PRODUCING_KINDS)
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
        extensions.extension_requests_lapse(item=item, by=user, now=now)
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
    by = f" by {item.completed_by.get_username()}" if item.completed_by is not None else ""
    return f"This task is already {item.get_status_display().lower()}{by}; nothing was changed."


def task_approve(*, item: WorkItem, user, comment: str = "") -> WorkItem:
    """Approve an approval, review or sign-off step; the case moves to its next step."""
    if item.kind not in DECIDED_KINDS:
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
    if item.kind not in DECIDED_KINDS:
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
    if item.kind not in COMPLETED_KINDS:
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
            evidence_store(case=item.case, item=item, user=user, upload=upload)
    return item


def task_claim(*, item: WorkItem, user) -> WorkItem:
    """Take a task from a queue the user serves."""
    with item.task.activation():
        item.refresh_from_db()
        if item.status != WorkItemStatus.OPEN:
            raise TaskConflict(_already_done_message(item))
        if item.assignee_id == user.pk:
            return item
        if item.assignee is not None:
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
    could act on its step (reassignment.reassign_candidate_list), or back to its queue; the
    reason is recorded. Anyone else, and the producer of work under review, is refused with
    the reason."""
    access.check_can_coordinate(by, item.case.organisation)
    reason = clean_text(reason)
    if not reason.strip():
        raise ReasonRequired("A reason is required to reassign a task.")
    reassignment.check_reassign_target(item, to_user)
    with item.task.activation():
        item.refresh_from_db()
        if item.status != WorkItemStatus.OPEN:
            raise TaskConflict(_already_done_message(item))
        reassignment.check_reassign_target(item, to_user)
        previous = username_of(item.assignee)
        _set_owner(item, to_user)
        audit_record(
            verb="task_reassigned",
            actor=by,
            case=item.case,
            work_item=item,
            reason=reason.strip(),
            data={"from": previous, "to": username_of(to_user)},
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
            evidence_store(case=case, item=item, user=user, upload=upload)
        audit_record(
            verb="progress_reported",
            actor=user,
            case=case,
            work_item=item,
            data={"percent": percent, "note": note.strip()},
        )
        lights.case_lights_refresh(case=case)
    return update


# --------------------------------------------------------------------------- comments


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
