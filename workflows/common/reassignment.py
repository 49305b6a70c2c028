"""Who may take a task over: the people a coordinator may reassign it to, by the rule of reach
applied to the task's step (and never the one who produced the work it decides on).
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from workflows.common import roles
from workflows.common.reach import reach_of
from workflows.models import (
    DECIDED_KINDS,
    WorkItem,
)


def reassign_candidate_list(item: WorkItem, *, q: str = "") -> QuerySet:
    """The people a task may be handed to: those who could act on its step, in its case's
    federation. A department's step: that department's active staff and head; a leader's
    step: the holder of that leader role. Never an auditor, a superuser, nor, for an approval,
    review or sign-off, the person who produced the work. `q` searches username, full name,
    department and post (their English or Chinese titles)."""
    users = get_user_model().objects.filter(is_active=True, is_superuser=False)
    if item.leader_role_id is not None:
        users = users.filter(leader_roles=item.leader_role_id)
    elif item.department_id is not None:
        users = users.filter(
            Q(staff_departments=item.department_id) | Q(headed_departments=item.department_id)
        )
    else:
        return users.none()
    users = users.exclude(groups__name=roles.AUDITORS)
    # In the case's federation: accounts at home there (a national case also takes accounts
    # without a home organisation, as every account was before subordinate federations).
    case = item.case
    home = Q(profile__organisation=case.organisation_id)
    if case.organisation.parent_id is None:
        home |= Q(profile__isnull=True) | Q(profile__organisation__isnull=True)
    users = users.filter(home)
    if item.kind in DECIDED_KINDS and item.produced_by_id is not None:
        users = users.exclude(pk=item.produced_by_id)
    q = (q or "").strip()
    if q:
        words = Q()
        for word in q.split()[:5]:
            words &= (
                Q(username__icontains=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(staff_departments__title_en__icontains=word)
                | Q(staff_departments__title_zh__icontains=word)
                | Q(headed_departments__title_en__icontains=word)
                | Q(headed_departments__title_zh__icontains=word)
                | Q(leader_roles__title_en__icontains=word)
                | Q(leader_roles__title_zh__icontains=word)
            )
        users = users.filter(words)
    return users.distinct().order_by("username")


def check_reassign_target(item: WorkItem, to_user) -> None:
    """Raise ValidationError, saying why, unless the task may be handed to `to_user`
    (None puts it back in its queue, which is always allowed)."""
    if to_user is None:
        return
    name = to_user.get_username()
    if reach_of(to_user).auditor:
        raise ValidationError(_("Auditors cannot be given tasks."))
    if item.kind in DECIDED_KINDS and item.produced_by_id == to_user.pk:
        raise ValidationError(
            _(
                "Separation of duties: %(name)s produced the work under review, so someone "
                "else must decide on it."
            )
            % {"name": name}
        )
    if not reassign_candidate_list(item).filter(pk=to_user.pk).exists():
        raise ValidationError(
            _(
                "%(name)s cannot act on this step: a task goes only to the staff or head of its "
                "department, or the holder of its leader post, in the case's federation "
                "(%(federation)s)."
            )
            % {"name": name, "federation": item.case.organisation.title}
        )
