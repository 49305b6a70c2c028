"""Leader instructions (领导批示): a supervising leader's written instruction on a case, and the
lead department's reply.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from workflows.audit.trail import audit_record
from workflows.common import reach as access
from workflows.common.bounds import check_date
from workflows.common.calendar import WorkingCalendar, due_at_for, local_date
from workflows.models import (
    Case,
    LeaderInstruction,
    NotificationKind,
)
from workflows.supervision.base import (
    SupervisionError,
    check_lead_member,
    check_not_auditor,
    notify_users,
    required_text,
)

INSTRUCTION_DEFAULT_WORKING_DAYS = 10


def instruction_issue(*, case: Case, leader, text: str, due_date: dt.date | None = None, now=None):
    """A leader's instruction on a case becomes a tracked item with its own due date."""
    check_not_auditor(leader)
    if not access.is_leader(leader):
        raise PermissionDenied("Only leaders can write instructions.")
    if not access.can_view_case(leader, case):  # a leader of another federation
        raise PermissionDenied("This case is outside your federation.")
    text = required_text(text, "The instruction")
    now = now or timezone.now()
    if due_date is not None:
        check_date(due_date, field="due_date")
    else:
        due_date = WorkingCalendar.load().add_working_days(
            local_date(now), INSTRUCTION_DEFAULT_WORKING_DAYS
        )
    due_at = due_at_for(due_date)
    if due_at <= now:
        raise SupervisionError("The reply date must be in the future.")
    with transaction.atomic():
        instruction = LeaderInstruction.objects.create(
            case=case, leader=leader, text=text, due_at=due_at, created_at=now
        )
        notify_users(
            [case.lead_department.head],
            kind=NotificationKind.SUPERVISION,
            key=f"instruction:{instruction.pk}",
            case=case,
            payload={
                "instruction": instruction.pk,
                "text": text,
                "response_due": due_at.isoformat(),
            },
            now=now,
        )
        audit_record(
            verb="instruction_issued",
            actor=leader,
            case=case,
            reason=text,
            data={"instruction": instruction.pk, "due_at": due_at},
        )
    return instruction


def instruction_reply(*, instruction: LeaderInstruction, user, text: str):
    """The lead department replies to a leader's instruction; the item is then closed."""
    check_lead_member(user, instruction.case)
    text = required_text(text, "A reply")
    with transaction.atomic():
        instruction = LeaderInstruction.objects.select_for_update().get(pk=instruction.pk)
        if instruction.replied_at is not None:
            raise SupervisionError("This instruction has already been answered.")
        instruction.reply, instruction.replied_by = text, user
        instruction.replied_at = timezone.now()
        instruction.save(update_fields=["reply", "replied_by", "replied_at"])
        audit_record(
            verb="instruction_replied",
            actor=user,
            case=instruction.case,
            reason=text,
            data={
                "instruction": instruction.pk,
                "late": instruction.replied_at > instruction.due_at,
            },
        )
    return instruction
