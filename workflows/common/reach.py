"""Who may see and act on what: the one rule of reach. Every page, API view, export, PDF and
service asks here; nothing else works reach out for itself.

Reach, worked out once per request and cached on the user object (`reach_of`):
- Every user is bounded by their federation: their home organisation and those below it
  (`Reach.bound`, an Organisation.path prefix). National users, superusers and accounts with
  no home organisation are bounded by nothing. No group membership widens the bound: a
  provincial leader is not a national leader.
- Coordinators and auditors see every case within the bound.
- Heads, staff and leaders see, within the bound, the cases their departments lead and their
  leader posts supervise (by key, in the post's federation and below), plus what is routed or
  escalated to them: cases with a task in a queue they serve or assigned to them, and cases
  they were sent a message about (reminders, escalations, supervision orders, instructions).
Everything on a case (tasks, evidence, feedback cycles, partner inputs, extension requests,
orders, instructions, scores, notifications, completion reports) is visible with its case.
Programme reports belong to an organisation: coordinators, auditors and leaders read those
within their bound.

viewflow does not check permissions when transitions are called from code, so the services
call `check_can_act` themselves before touching a task.
"""

from functools import cached_property
from typing import cast

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from workflows.common import roles, substitution
from workflows.common.db import HashedIn
from workflows.common.reach_facts import Facts, facts_read
from workflows.models import (
    DECIDED_KINDS,
    AuditEvent,
    Case,
    Department,
    FeedbackCycle,
    LeaderRole,
    Notification,
    Organisation,
    Report,
    ReportKind,
    WorkItem,
)

# --------------------------------------------------------------------------- the rule


class Reach:
    """What one user may see and act on. What it is worked out from is read once, in one
    query, when first needed, and kept for the rest of the request (the user object lives as
    long as the request)."""

    def __init__(self, user):
        self.user = user
        self.authenticated = bool(user.is_authenticated)

    @cached_property
    def facts(self) -> Facts:
        if not self.authenticated:
            return Facts()
        return facts_read(self.user)

    @cached_property
    def groups(self) -> frozenset[str]:
        return self.facts.groups

    @cached_property
    def auditor(self) -> bool:
        return roles.AUDITORS in self.groups

    @cached_property
    def coordinator(self) -> bool:
        if not self.authenticated or self.auditor:
            return False
        return self.user.is_superuser or roles.COORDINATORS in self.groups

    @property
    def oversees(self) -> bool:
        """Coordinators and auditors: every case within the bound."""
        return self.coordinator or self.auditor

    @cached_property
    def home(self) -> Organisation | None:
        """The home organisation itself (read only by the pages that show or default to it)."""
        if (home_id := self.facts.home_id) is None:
            return None
        return Organisation.objects.select_related("level").get(pk=home_id)

    @cached_property
    def bound(self) -> str | None:
        """The path of the subtree the user may ever see; None is the whole tree."""
        facts = self.facts
        if self.user.is_superuser or facts.home_id is None or facts.home_is_root:
            return None
        return facts.home_path

    @cached_property
    def persons(self) -> frozenset[int]:
        """The user and those they stand in for today (workflows/substitutes.py)."""
        if not self.authenticated:
            return frozenset()
        return frozenset({self.user.pk, *self.facts.represented})

    @cached_property
    def departments(self) -> tuple[frozenset[int], frozenset[int]]:
        """(departments headed, departments staffed), with those of whom they stand in for."""
        facts = self.facts
        return (
            frozenset(row[0] for row in facts.headed),
            frozenset(row[0] for row in facts.staffed),
        )

    @cached_property
    def department_rows(self) -> tuple[tuple[int, str, int], ...]:
        """(pk, key, organisation id) of every department in `departments`, by pk."""
        facts = self.facts
        rows = {(pk, key, organisation) for pk, key, _path, organisation in facts.headed}
        rows |= {(pk, key, organisation) for pk, key, _path, organisation in facts.staffed}
        return tuple(sorted(rows))

    @cached_property
    def leader_roles(self) -> frozenset[int]:
        return frozenset(row[0] for row in self.facts.held)

    @cached_property
    def leader(self) -> bool:
        """Holds a leader post, or belongs to the leaders group (the leadership above them)."""
        return bool(self.leader_roles) or roles.LEADERS in self.groups

    @cached_property
    def posts(self) -> tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str]]]:
        """((department key, organisation path), (leader role key, organisation path)) held:
        a post sees its own key's cases in its organisation and below."""
        facts = self.facts
        return (
            frozenset((key, path) for _pk, key, path, _org in facts.headed | facts.staffed),
            frozenset((key, path) for _pk, key, path, _org in facts.held),
        )

    def within(self, path: str) -> bool:
        """Whether an organisation path lies within the user's bound."""
        return self.bound is None or path.startswith(self.bound)

    def bounded(self, queryset: QuerySet, field: str = "organisation") -> QuerySet:
        """The rows whose organisation (reached through `field`) lies within the bound."""
        if self.bound is None:
            return queryset
        return queryset.filter(**{f"{field}__path__startswith": self.bound})

    def cases(self) -> QuerySet[Case]:
        """Every case the user may see (one query when evaluated, however it is filtered)."""
        if not self.authenticated:
            return Case.objects.none()
        cases = self.bounded(Case.objects.all())
        if self.oversees:
            return cases
        headed, staffed = self.departments
        routed = WorkItem.objects.filter(
            Q(department__in=headed | staffed)
            | Q(leader_role__in=self.leader_roles)
            | Q(assignee__in=self.persons)
        )
        # Messages about a case (rung 3 names the First Secretary and the Chairman) open it
        # to their recipients: indexed by (recipient, case).
        told = Notification.objects.filter(recipient__in=self.persons, case__isnull=False)
        sources = [routed.order_by().values("case_id"), told.order_by().values("case_id")]
        department_posts, leader_posts = self.posts
        for key, path in department_posts:
            led = Case.objects.filter(lead_department__key=key, organisation__path__startswith=path)
            sources.append(led.order_by().values("pk"))
        for key, path in leader_posts:
            led = Case.objects.filter(
                supervising_leader__key=key, organisation__path__startswith=path
            )
            sources.append(led.order_by().values("pk"))
        # One UNION of case ids, each part read through its own index, instead of an OR of
        # subqueries and path prefixes that PostgreSQL can only test row by row (440 ms for a
        # national department head at 3,000 federations, issue 20).
        visible = sources[0].union(*sources[1:])
        return cases.filter(pk__in=visible)


def reach_of(user) -> Reach:
    """The user's reach, worked out once per request object."""
    reach = getattr(user, "_reformflow_reach", None)
    if reach is None:
        reach = user._reformflow_reach = Reach(user)
    return reach


def reach_key(user, *, personal: bool = False) -> tuple:
    """What decides the user's reach, as part of a cache key: users with equal keys see the
    same cases. Overseers share theirs (role and bound: "per federation") unless `personal`
    (what they may act on: their own tasks and queues); anyone else's names them and whom
    they stand in for today, with their departments, posts and leadership. Reach also
    follows the tasks and messages routed to those persons, which change only with writes
    that bump the change stamp (common/change_stamp.py)."""
    reach = reach_of(user)
    if not reach.authenticated:
        return ("anonymous",)
    if reach.oversees and not personal:
        return ("auditor" if reach.auditor else "coordinator", reach.bound or "")
    headed, staffed = reach.departments
    return (
        "person",
        reach.bound or "",
        reach.auditor,
        reach.leader,
        *(tuple(sorted(ids)) for ids in (reach.persons, headed, staffed, reach.leader_roles)),
    )


# --------------------------------------------------------------------------- roles


def is_auditor(user) -> bool:
    """Auditors read everything in their federation and never act; the group wins over any."""
    return reach_of(user).auditor


def is_coordinator(user) -> bool:
    """Coordinators launch measures, reassign tasks and see their federation's programme."""
    return reach_of(user).coordinator


def is_leader(user) -> bool:
    """Holds a leader post or belongs to the leaders group (within their own federation)."""
    return reach_of(user).leader


def oversees_cases(user) -> bool:
    """Coordinators and auditors see every case in their organisation's subtree."""
    return reach_of(user).oversees


def user_organisation(user) -> Organisation | None:
    """The user's home organisation (Profile.organisation), cached per request object."""
    return reach_of(user).home


def user_organisation_id(user) -> int | None:
    return reach_of(user).facts.home_id  # the home organisation's id, without reading it


def user_scope_path(user) -> str | None:
    """The path of the subtree the user may see; None means the whole tree."""
    return reach_of(user).bound


def sees_everything(user) -> bool:
    """National coordinators and auditors: every case, the chain verification, engine pages."""
    reach = reach_of(user)
    return reach.oversees and reach.bound is None


def in_scope(user, organisation: Organisation) -> bool:
    """Whether the organisation is in the subtree the user may see."""
    return reach_of(user).within(organisation.path)


def user_department_ids(user) -> tuple[set[int], set[int]]:
    """(departments the user heads, departments the user is staff of), cached per request."""
    headed, staffed = reach_of(user).departments
    return set(headed), set(staffed)


def user_leader_role_ids(user) -> set[int]:
    return set(reach_of(user).leader_roles)


def organisation_list_visible(user) -> QuerySet[Organisation]:
    """Organisations within the user's bound: their federation and those below it."""
    organisations = Organisation.objects.select_related("level").order_by("level__rank", "code")
    reach = reach_of(user)
    if reach.bound is None:
        return organisations
    return organisations.filter(path__startswith=reach.bound)


def organisation_default(user) -> Organisation | None:
    """The federation a page shows by default: the user's own, else the national one."""
    return user_organisation(user) or Organisation.objects.filter(parent__isnull=True).first()


# --------------------------------------------------------------------------- cases and tasks


def case_list_visible(user) -> QuerySet[Case]:
    """Cases the user may see, never a sibling organisation's (see the module's rule)."""
    return reach_of(user).cases()


def can_view_case(user, case: Case) -> bool:
    return case_list_visible(user).filter(pk=case.pk).exists()


def work_item_list_visible(user) -> QuerySet[WorkItem]:
    """Tasks, open or done, on the cases the user may see."""
    return WorkItem.objects.filter(case__in=case_list_visible(user))


def work_item_list_actionable(user) -> QuerySet[WorkItem]:
    """Open work items the user could act on now: assigned to them, or in a queue they serve,
    within their federation."""
    reach = reach_of(user)
    items = WorkItem.objects.filter(status="open")
    if not reach.authenticated or reach.auditor:
        return items.none()
    headed, staffed = reach.departments
    items = items.filter(
        Q(assignee__in=reach.persons)
        | Q(assignee__isnull=True, for_head=False, department__in=staffed)
        | Q(assignee__isnull=True, for_head=True, department__in=headed)
        | Q(assignee__isnull=True, leader_role__in=reach.leader_roles)
    )
    return reach.bounded(items, "case__organisation")


def is_candidate(user, item: WorkItem) -> bool:
    """Whether the user is among those a work item is routed to (before separation of duties)."""
    reach = reach_of(user)
    if not reach.authenticated or reach.auditor:
        return False
    if item.assignee_id is not None:
        return item.assignee_id in reach.persons
    headed, staffed = reach.departments
    if item.leader_role_id is not None:
        return item.leader_role_id in reach.leader_roles
    if item.department_id is None:
        return False
    return item.department_id in (headed if item.for_head else staffed)


def task_candidate_users(item: WorkItem) -> list:
    """Who may pick the task up: its assignee, else its queue's active staff, head or leader.

    Reads through the item's relations, so a prefetched list of tasks costs no query per row.
    """
    # The *_id checks read no row; the relations they guard are then loaded (or prefetched).
    if item.assignee_id is not None:
        users = [item.assignee]
    elif item.leader_role_id is not None:
        users = [cast(LeaderRole, item.leader_role).holder]
    elif item.department_id is None:
        users = []
    elif item.for_head:
        users = [cast(Department, item.department).head]
    else:
        users = list(cast(Department, item.department).staff.all())
    return [user for user in users if user is not None and user.is_active]


def check_can_act(user, item: WorkItem) -> None:
    """Raise PermissionDenied, with the reason, unless the user may act on this work item now."""
    if not user.is_authenticated:
        raise PermissionDenied(_("Log in first."))
    if is_auditor(user):
        raise PermissionDenied(_("Auditors have read-only access."))
    if not is_candidate(user, item):
        raise PermissionDenied(_("This task is not assigned to you or to a queue you serve."))
    bound = reach_of(user).bound
    if bound is not None and not item.case.organisation.path.startswith(bound):
        raise PermissionDenied(_("This task belongs to a federation outside yours."))
    if item.kind in DECIDED_KINDS and item.produced_by_id == user.pk:
        raise PermissionDenied(
            "Separation of duties: you submitted this work, so someone else must decide on it."
        )
    if item.kind in DECIDED_KINDS and item.produced_by_id in substitution.pair_of(user):
        raise PermissionDenied(
            _(
                "Separation of duties: the person you stand in for (or who stands in for you) "
                "submitted this work, so someone else must decide on it."
            )
        )
    # Acting as someone's substitute: noted for the audit event (common/substitution.py).
    if len(reach_of(user).persons) > 1:
        item._reformflow_on_behalf = substitution.on_behalf_of(user, item)  # type: ignore[attr-defined]


def can_coordinate(user, organisation: Organisation | None = None) -> bool:
    """A coordinator, and (if given) the organisation is in their subtree."""
    if not is_coordinator(user):
        return False
    return organisation is None or in_scope(user, organisation)


def check_can_coordinate(user, organisation: Organisation | None = None) -> None:
    """Raise PermissionDenied unless the user coordinates (the organisation's subtree, if given)."""
    if not is_coordinator(user):
        raise PermissionDenied(_("Only coordinators can do this."))
    if organisation is not None and not in_scope(user, organisation):
        raise PermissionDenied(
            f"{organisation.title_en} is outside your organisation; coordinators act only "
            "within their own federation and the ones below it."
        )


# --------------------------------------------------------------------------- around a case


def case_partner_departments(case: Case) -> QuerySet[Department]:
    """The measure's partner departments, resolved in the case's own organisation."""
    keys = case.measure.partner_departments.values("key")
    return Department.objects.filter(organisation=case.organisation_id, key__in=keys)


def cycle_partner_department(user, cycle: FeedbackCycle) -> Department | None:
    """The user's department among the cycle's partners (in the case's organisation), if any:
    partners see the cycle they contribute to, even without other access to the case."""
    headed, staffed = reach_of(user).departments
    if not headed | staffed:
        return None
    return case_partner_departments(cycle.case).filter(pk__in=headed | staffed).first()


def can_view_cycle(user, cycle: FeedbackCycle) -> bool:
    """A cycle is visible with its case, and to the partner departments asked for input."""
    return cycle_partner_department(user, cycle) is not None or can_view_case(user, cycle.case)


def cycle_list_visible(user) -> QuerySet[FeedbackCycle]:
    """Feedback cycles the user may see: those of visible cases, and those a department of
    theirs is a partner of (as can_view_cycle, for a whole list)."""
    cycles = FeedbackCycle.objects.filter(case__in=case_list_visible(user))
    headed, staffed = reach_of(user).departments
    if not headed | staffed:
        return cycles
    partner = Q(pk__in=[])
    for key, organisation in Department.objects.filter(pk__in=headed | staffed).values_list(
        "key", "organisation"
    ):
        partner |= Q(case__organisation=organisation, case__measure__partner_departments__key=key)
    return FeedbackCycle.objects.filter(
        Q(pk__in=cycles.values("pk")) | Q(pk__in=FeedbackCycle.objects.filter(partner).values("pk"))
    )


def notification_list_visible(user) -> QuerySet[Notification]:
    """The notification log's rows: for coordinators and auditors, the messages about cases
    within their bound (and, without a case, to people at home there); nothing for others."""
    reach = reach_of(user)
    rows = Notification.objects.all()
    if not reach.oversees:
        return rows.none()
    if reach.bound is None:
        return rows
    return rows.filter(
        Q(case__organisation__path__startswith=reach.bound)
        | Q(case__isnull=True, recipient__profile__organisation__path__startswith=reach.bound)
    )


# A bound holding at least this many cases pages its events newest first by scanning the trail
# and testing each event's case against the bound's cases hashed once; a smaller bound reads
# its cases' events through the (case, id) index and sorts them (common/keyset.py).
AUDIT_SCAN_CASES = 500


def audit_event_list_visible(user, *, paged: bool = False) -> QuerySet[AuditEvent]:
    """The audit trail's events: all for national coordinators and auditors, the events on
    cases within the bound for a subordinate federation's; nothing for others. `paged`: the
    same events, in the shape that reads least for a page of them newest first (one query
    more, to size the bound)."""
    reach = reach_of(user)
    events = AuditEvent.objects.all()
    if not reach.oversees:
        return events.none()
    if reach.bound is None:
        return events
    if not paged:
        return reach.bounded(events, "case__organisation")
    cases = reach.bounded(Case.objects.all()).order_by().values("pk")
    if cases[:AUDIT_SCAN_CASES].count() < AUDIT_SCAN_CASES:
        return reach.bounded(events, "case__organisation")
    return events.alias(reached=HashedIn(Q(case__in=cases))).filter(reached=True)


def reads_logs(user) -> bool:
    """The notification log and the audit desk: coordinators and auditors (their bound)."""
    return oversees_cases(user)


# --------------------------------------------------------------------------- reports


def reads_programme_reports(user) -> bool:
    """Coordinators, auditors and leaders read (and request) programme reports of their bound."""
    reach = reach_of(user)
    return reach.oversees or reach.leader


def report_list_visible(user) -> QuerySet[Report]:
    """Reports the user may see and download: completion reports of visible cases, and the
    programme reports of organisations within the bound for those who read them."""
    reach = reach_of(user)
    reports = Report.objects.all()
    if not reach.authenticated:
        return reports.none()
    visible = Q(kind=ReportKind.COMPLETION, case__in=case_list_visible(user))
    if reads_programme_reports(user):
        programme = Q(kind=ReportKind.PROGRAMME)
        if reach.bound is not None:
            programme &= Q(organisation__path__startswith=reach.bound)
        visible |= programme
    return reports.filter(visible)


def can_view_report(user, report: Report) -> bool:
    """Whether the user may see and download this report."""
    return report_list_visible(user).filter(pk=report.pk).exists()


def check_can_request_programme_report(user) -> None:
    """Raise PermissionDenied unless the user may request a programme report."""
    if not reads_programme_reports(user):
        raise PermissionDenied(
            "Only coordinators, auditors and leaders can request programme reports."
        )
