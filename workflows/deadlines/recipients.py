"""Who each reminder and rung reaches: the assignee or queue, the department head, the
supervising leader and the coordinators, loaded once per sweep batch.
"""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, prefetch_related_objects

from workflows.common import reach as access
from workflows.common import roles
from workflows.models import (
    Case,
    LeaderRole,
    Profile,
    Recipient,
    WorkItem,
)


class Recipients:
    """Who each policy recipient key names, for a batch of tasks, in a fixed number of queries.

    `load` reads everything the batch's keys need at once: the queues' staff, the leader roles
    per (organisation, key), the coordinators per organisation, the parent cases'
    organisations and the users who take their messages in the digest.
    """

    def __init__(self, items: list[WorkItem]):
        self.items = items
        self.leader_holders: dict[tuple[int, str], object] = {}
        self.coordinators: dict[int, list] = defaultdict(list)
        self.parent_organisation: dict[int, int] = {}
        self.digest_only: set[int] = set()

    @classmethod
    def load(cls, items: list[WorkItem], keys: set[str], *, upward: bool) -> "Recipients":
        found = cls(items)
        queue_items = [
            i for i in items if i.assignee_id is None and i.leader_role_id is None and i.department
        ]
        if queue_items:
            # Only the staff list is read per task (access.task_candidate_users); one query.
            staff = Prefetch(
                "staff", queryset=get_user_model().objects.filter(is_active=True).order_by("pk")
            )
            prefetch_related_objects([i.department for i in queue_items], staff)
        organisations = {i.case.organisation_id for i in items}
        leader_keys = keys & {Recipient.FIRST_SECRETARY, Recipient.CHAIRMAN}
        if leader_keys:
            roles_found = LeaderRole.objects.filter(
                organisation__in=organisations, key__in=leader_keys, holder__isnull=False
            ).select_related("holder")
            found.leader_holders = {(r.organisation_id, r.key): r.holder for r in roles_found}
        if upward:
            parents = {i.case.parent_case_id for i in items} - {None}
            found.parent_organisation = dict(
                Case.objects.filter(pk__in=parents).values_list("pk", "organisation")
            )
        coordinator_orgs = (organisations if Recipient.COORDINATORS in keys else set()) | set(
            found.parent_organisation.values()
        )
        if coordinator_orgs:
            users = get_user_model().objects.filter(
                groups__name=roles.COORDINATORS,
                is_active=True,
                profile__organisation__in=coordinator_orgs,
            )
            for user in users.select_related("profile").order_by("pk"):
                found.coordinators[user.profile.organisation_id].append(user)
        return found

    def named(self, item: WorkItem, key: str) -> list:
        """The active users a policy recipient key names for this task."""
        case = item.case
        if key == Recipient.ASSIGNEE:
            users = access.task_candidate_users(item)
        elif key == Recipient.DEPARTMENT_HEAD:
            department = item.department or case.lead_department
            users = [department.head] if department.head_id else []
        elif key == Recipient.SUPERVISING_LEADER:
            users = [case.supervising_leader.holder]
        elif key in (Recipient.FIRST_SECRETARY, Recipient.CHAIRMAN):
            users = [self.leader_holders.get((case.organisation_id, key))]
        elif key == Recipient.COORDINATORS:
            users = self.coordinators[case.organisation_id]
        else:
            raise ValueError(f"unknown recipient {key!r}")
        return [u for u in users if u is not None and u.is_active]

    def parent_coordinators(self, item: WorkItem) -> list:
        """For a cascaded case, the coordinators of the parent case's organisation; else []."""
        parent = self.parent_organisation.get(item.case.parent_case_id)
        return list(self.coordinators[parent]) if parent is not None else []

    def load_digest_modes(self, users) -> None:
        """Which of these users read their messages in the daily digest only (one query)."""
        ids = {u.pk for u in users}
        if ids:
            self.digest_only = set(
                Profile.objects.filter(user__in=ids, notification_mode="digest").values_list(
                    "user_id", flat=True
                )
            )
