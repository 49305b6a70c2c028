"""Who may see and act on what. Every view, API endpoint and service asks here.

viewflow does not check permissions when transitions are called from code, so the services
call `check_can_act` themselves before touching a task.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from . import roles
from .models import Case, Department, LeaderRole, Report, ReportKind, StepKind, WorkItem


def _in_group(user, name: str) -> bool:
    cache = getattr(user, "_reformflow_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._reformflow_groups = cache
    return name in cache


def is_auditor(user) -> bool:
    """Auditors read everything and never act; the auditor group wins over any other."""
    return user.is_authenticated and _in_group(user, roles.AUDITORS)


def is_coordinator(user) -> bool:
    """Coordinators launch measures, reassign tasks and see the whole programme."""
    if not user.is_authenticated or is_auditor(user):
        return False
    return user.is_superuser or _in_group(user, roles.COORDINATORS)


def sees_everything(user) -> bool:
    return is_coordinator(user) or is_auditor(user)


def is_leader(user) -> bool:
    """Members of the leaders group (supervising leaders and the leadership above them)."""
    return user.is_authenticated and _in_group(user, roles.LEADERS)


def user_department_ids(user) -> tuple[set[int], set[int]]:
    """(departments the user heads, departments the user is staff of), cached per request."""
    cached = getattr(user, "_reformflow_departments", None)
    if cached is None:
        headed = set(Department.objects.filter(head=user).values_list("pk", flat=True))
        staffed = set(Department.objects.filter(staff=user).values_list("pk", flat=True))
        cached = (headed, staffed)
        user._reformflow_departments = cached
    return cached


def user_leader_role_ids(user) -> set[int]:
    cached = getattr(user, "_reformflow_leader_roles", None)
    if cached is None:
        cached = set(LeaderRole.objects.filter(holder=user).values_list("pk", flat=True))
        user._reformflow_leader_roles = cached
    return cached


def case_list_visible(user) -> QuerySet[Case]:
    """Cases the user may see: all for coordinators/auditors, else their departments' and roles'."""
    cases = Case.objects.all()
    if not user.is_authenticated:
        return cases.none()
    if sees_everything(user):
        return cases
    headed, staffed = user_department_ids(user)
    departments = headed | staffed
    leader_roles = user_leader_role_ids(user)
    involved = WorkItem.objects.filter(
        Q(department__in=departments) | Q(leader_role__in=leader_roles) | Q(assignee=user)
    ).values("case_id")
    return cases.filter(
        Q(lead_department__in=departments)
        | Q(supervising_leader__in=leader_roles)
        | Q(pk__in=involved)
    )


def work_item_list_actionable(user) -> QuerySet[WorkItem]:
    """Open work items the user could act on now: assigned to them, or in a queue they serve."""
    items = WorkItem.objects.filter(status="open")
    if not user.is_authenticated or is_auditor(user):
        return items.none()
    headed, staffed = user_department_ids(user)
    return items.filter(
        Q(assignee=user)
        | Q(assignee__isnull=True, for_head=False, department__in=staffed)
        | Q(assignee__isnull=True, for_head=True, department__in=headed)
        | Q(assignee__isnull=True, leader_role__in=user_leader_role_ids(user))
    )


def can_view_case(user, case: Case) -> bool:
    return case_list_visible(user).filter(pk=case.pk).exists()


def is_candidate(user, item: WorkItem) -> bool:
    """Whether the user is among those a work item is routed to (before separation of duties)."""
    if not user.is_authenticated or is_auditor(user):
        return False
    if item.assignee_id is not None:
        return item.assignee_id == user.pk
    headed, staffed = user_department_ids(user)
    if item.leader_role_id is not None:
        return item.leader_role_id in user_leader_role_ids(user)
    if item.department_id is None:
        return False
    return item.department_id in (headed if item.for_head else staffed)


_REVIEWING_KINDS = {StepKind.APPROVE, StepKind.REVIEW, StepKind.SIGN_OFF}


def check_can_act(user, item: WorkItem) -> None:
    """Raise PermissionDenied, with the reason, unless the user may act on this work item now."""
    if not user.is_authenticated:
        raise PermissionDenied("Log in first.")
    if is_auditor(user):
        raise PermissionDenied("Auditors have read-only access.")
    if not is_candidate(user, item):
        raise PermissionDenied("This task is not assigned to you or to a queue you serve.")
    if item.kind in _REVIEWING_KINDS and item.produced_by_id == user.pk:
        raise PermissionDenied(
            "Separation of duties: you submitted this work, so someone else must decide on it."
        )


def check_can_coordinate(user) -> None:
    """Raise PermissionDenied unless the user is a coordinator."""
    if not is_coordinator(user):
        raise PermissionDenied("Only coordinators can do this.")


# --------------------------------------------------------------------------- reports


def sees_all_reports(user) -> bool:
    """Coordinators, auditors and leaders read every report, programme reports included."""
    return sees_everything(user) or is_leader(user)


def report_list_visible(user) -> QuerySet[Report]:
    """Reports the user may see and download: all, or completion reports of visible cases."""
    reports = Report.objects.all()
    if not user.is_authenticated:
        return reports.none()
    if sees_all_reports(user):
        return reports
    return reports.filter(kind=ReportKind.COMPLETION, case__in=case_list_visible(user))


def can_view_report(user, report: Report) -> bool:
    """Whether the user may see and download this report (a case's follows case access)."""
    if sees_all_reports(user):
        return True
    if report.kind != ReportKind.COMPLETION or report.case_id is None:
        return False
    return case_list_visible(user).filter(pk=report.case_id).exists()


def check_can_request_programme_report(user) -> None:
    """Raise PermissionDenied unless the user may request a programme report."""
    if not sees_all_reports(user):
        raise PermissionDenied(
            "Only coordinators, auditors and leaders can request programme reports."
        )
