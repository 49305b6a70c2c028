"""Who may see and act on what. Every view, API endpoint and service asks here.

viewflow does not check permissions when transitions are called from code, so the services
call `check_can_act` themselves before touching a task.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from . import roles
from .models import (
    Case,
    Department,
    LeaderRole,
    Organisation,
    Profile,
    Report,
    ReportKind,
    StepKind,
    WorkItem,
)


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


def user_organisation(user) -> Organisation | None:
    """The user's home organisation (Profile.organisation), cached per request object."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_reformflow_organisation"):
        profile = Profile.objects.filter(user=user).select_related("organisation__level").first()
        user._reformflow_organisation = profile.organisation if profile else None
    return user._reformflow_organisation


def user_scope_path(user) -> str | None:
    """The path of the subtree a coordinator or auditor oversees; None means the whole tree.

    Superusers and users of the national federation oversee everything; so do accounts with
    no home organisation, which is how every account worked before subordinate federations.
    """
    if user.is_superuser:
        return None
    organisation = user_organisation(user)
    if organisation is None or organisation.parent_id is None:
        return None
    return organisation.path


def oversees_cases(user) -> bool:
    """Coordinators and auditors see every case in their organisation's subtree."""
    return is_coordinator(user) or is_auditor(user)


def is_leader(user) -> bool:
    """Members of the leaders group (supervising leaders and the leadership above them)."""
    return user.is_authenticated and _in_group(user, roles.LEADERS)


def sees_everything(user) -> bool:
    """National coordinators and auditors: every case, the notification log, engine pages."""
    return oversees_cases(user) and user_scope_path(user) is None


def in_scope(user, organisation: Organisation) -> bool:
    """Whether the organisation is in the subtree the user oversees."""
    path = user_scope_path(user)
    return path is None or organisation.path.startswith(path)


def user_department_ids(user) -> tuple[set[int], set[int]]:
    """(departments the user heads, departments the user is staff of), cached per request."""
    cached = getattr(user, "_reformflow_departments", None)
    if cached is None:
        # order_by(): the default ordering (organisation level, code) would join two tables
        # on every request only to sort a set.
        headed = set(Department.objects.filter(head=user).order_by().values_list("pk", flat=True))
        staffed = set(Department.objects.filter(staff=user).order_by().values_list("pk", flat=True))
        cached = (headed, staffed)
        user._reformflow_departments = cached
    return cached


def user_leader_role_ids(user) -> set[int]:
    cached = getattr(user, "_reformflow_leader_roles", None)
    if cached is None:
        cached = set(LeaderRole.objects.filter(holder=user).order_by().values_list("pk", flat=True))
        user._reformflow_leader_roles = cached
    return cached


def user_post_scopes(user) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """((department key, organisation path), (leader role key, organisation path)) the user
    holds, cached: a post sees its own key's cases in its organisation and below."""
    cached = getattr(user, "_reformflow_post_scopes", None)
    if cached is None:
        departments = set(
            Department.objects.filter(Q(head=user) | Q(staff=user)).values_list(
                "key", "organisation__path"
            )
        )
        leader_roles = set(
            LeaderRole.objects.filter(holder=user).values_list("key", "organisation__path")
        )
        cached = (departments, leader_roles)
        user._reformflow_post_scopes = cached
    return cached


def case_list_visible(user) -> QuerySet[Case]:
    """Cases the user may see, never a sibling organisation's.

    Coordinators and auditors: every case of their organisation and below (national: all).
    Department heads, staff and leaders: the cases their department or post leads or
    supervises, in their organisation and below (matched by key, since each federation has
    its own copy of the departments), plus any case with a task routed to them.
    """
    cases = Case.objects.all()
    if not user.is_authenticated:
        return cases.none()
    if oversees_cases(user):
        path = user_scope_path(user)
        return cases if path is None else cases.filter(organisation__path__startswith=path)
    headed, staffed = user_department_ids(user)
    departments = headed | staffed
    leader_roles = user_leader_role_ids(user)
    involved = WorkItem.objects.filter(
        Q(department__in=departments) | Q(leader_role__in=leader_roles) | Q(assignee=user)
    ).values("case_id")
    visible = Q(pk__in=involved)
    department_scopes, leader_scopes = user_post_scopes(user)
    for key, path in department_scopes:
        visible |= Q(lead_department__key=key, organisation__path__startswith=path)
    for key, path in leader_scopes:
        visible |= Q(supervising_leader__key=key, organisation__path__startswith=path)
    return cases.filter(visible)


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


def task_candidate_users(item: WorkItem) -> list:
    """Who may pick the task up: its assignee, else its queue's active staff, head or leader.

    Reads through the item's relations, so a prefetched list of tasks costs no query per row.
    """
    if item.assignee_id is not None:
        users = [item.assignee]
    elif item.leader_role_id is not None:
        users = [item.leader_role.holder]
    elif item.department_id is None:
        users = []
    elif item.for_head:
        users = [item.department.head]
    else:
        users = list(item.department.staff.all())
    return [user for user in users if user is not None and user.is_active]


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


def can_coordinate(user, organisation: Organisation | None = None) -> bool:
    """A coordinator, and (if given) the organisation is in their subtree."""
    if not is_coordinator(user):
        return False
    return organisation is None or in_scope(user, organisation)


def check_can_coordinate(user, organisation: Organisation | None = None) -> None:
    """Raise PermissionDenied unless the user coordinates (the organisation's subtree, if given)."""
    if not is_coordinator(user):
        raise PermissionDenied("Only coordinators can do this.")
    if organisation is not None and not in_scope(user, organisation):
        raise PermissionDenied(
            f"{organisation.title_en} is outside your organisation; coordinators act only "
            "within their own federation and the ones below it."
        )


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
