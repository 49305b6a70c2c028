"""What every supervision action shares: its error, who is who in a case (lead department,
its head, the supervising leader, partners), its notices and the case's open item.

Like the case services, every supervision change checks who may make it, writes its rows and
an audit event in one transaction. Thresholds and limits are data (admin-edited rows) or the
tables beside the code that uses them.
"""

from django.core.exceptions import PermissionDenied, ValidationError

from workflows.common import reach as access
from workflows.common.bounds import clean_text
from workflows.models import (
    Case,
    Notification,
    WorkItem,
    WorkItemStatus,
)
from workflows.notifications.channels import rows_for_channels
from workflows.notifications.log import notification_rows


class SupervisionError(ValidationError):
    """A supervision action that cannot be done as asked (the message says why)."""


def required_text(value: str, what: str) -> str:
    value = clean_text(value).strip()
    if not value:
        raise SupervisionError(f"{what} is required.")
    return value


def check_not_auditor(user) -> None:
    if not user.is_authenticated:
        raise PermissionDenied("Log in first.")
    if access.is_auditor(user):
        raise PermissionDenied("Auditors have read-only access.")


def is_lead_member(user, case: Case) -> bool:
    """Staff or head of the case's lead department."""
    headed, staffed = access.user_department_ids(user)
    return case.lead_department_id in headed | staffed


def is_lead_head(user, case: Case) -> bool:
    headed, _staffed = access.user_department_ids(user)
    return case.lead_department_id in headed


def is_supervising_leader(user, case: Case) -> bool:
    return case.supervising_leader_id in access.user_leader_role_ids(user)


def lead_member_may_act(user, case: Case) -> bool:
    """Staff or head of the lead department, and not an auditor: may report and ask."""
    return is_lead_member(user, case) and not access.is_auditor(user)


def check_lead_member(user, case: Case) -> None:
    check_not_auditor(user)
    if not is_lead_member(user, case):
        raise PermissionDenied("Only the lead department's staff and head can do this.")


def notify_users(users, *, kind: str, key: str, case: Case, item=None, payload=None, now):
    """Log one message per user (unique key per user); digest-only users get it folded."""
    rows = notification_rows(
        users, kind=kind, key=key, case=case, item=item, payload=payload, now=now
    )
    Notification.objects.bulk_create(rows_for_channels(rows), ignore_conflicts=True)
    return len(rows)


def case_open_item(case: Case, kind: str | None = None) -> WorkItem | None:
    """The case's first open task (of `kind`): the one its supervision acts on."""
    items = case.work_items.filter(status=WorkItemStatus.OPEN).select_related("step")
    if kind:
        items = items.filter(kind=kind)
    return items.order_by("created_at", "pk").first()


def chunks_of(iterable, size: int):
    batch = []
    for row in iterable:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
