"""Who stands in for whom today (代理): the part of the rule of reach that substitutes add. A
substitute's reach takes the posts and assignments of the people they stand in for; the pair
never decides on each other's work; the audit event names on whose behalf they acted.
"""

import datetime as dt

from django.utils import timezone

from workflows.common.calendar import local_date
from workflows.models import Department, LeaderRole, Substitution


def local_today() -> dt.date:
    """Today's date where the programme runs: a stand-in is named from one date to another."""
    return local_date(timezone.now())


def _active(today: dt.date | None = None):
    today = today or local_today()
    return Substitution.objects.filter(ended=False, starts_on__lte=today, ends_on__gte=today)


def represented_query(user, today: dt.date | None = None):
    """The rows of the people `user` (a user or their id) stands in for on `today` (by default
    today), unevaluated (reach reads them in the same query as the user's posts:
    common/reach_facts.py)."""
    return _active(today).filter(substitute=user).order_by()


def represented_known(user, ids: frozenset[int]) -> None:
    """Keep `ids`, read elsewhere from `represented_query`, as `represented(user)`."""
    user._reformflow_represented = ids


def represented(user) -> frozenset[int]:
    """The people `user` stands in for today (one query, kept on the user object)."""
    cached = getattr(user, "_reformflow_represented", None)
    if cached is not None:
        return cached
    ids: frozenset[int] = frozenset()
    if getattr(user, "is_authenticated", False):
        ids = frozenset(represented_query(user).values_list("person_id", flat=True))
        represented_known(user, ids)
    return ids


def pair_of(user) -> frozenset[int]:
    """The user, those they stand in for, and those standing in for them today: separation of
    duties holds across them all."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    subs = _active().filter(person=user).order_by().values_list("substitute_id", flat=True)
    return frozenset({user.pk, *represented(user), *subs})


def on_behalf_of(actor, work_item) -> str:
    """The username of the person `actor` stands in for when acting on the task, or ""."""
    if work_item is None or actor is None or not getattr(actor, "is_authenticated", False):
        return ""
    people = represented(actor)
    if not people:
        return ""
    if work_item.assignee_id is not None:
        if work_item.assignee_id in people:
            return work_item.assignee.get_username()
        return ""
    own = _posts_of([actor.pk], work_item)
    if own:
        return ""
    theirs = _posts_of(list(people), work_item)
    return theirs[0] if theirs else ""


def _posts_of(user_ids, item) -> list[str]:
    """Usernames among `user_ids` whose own post the task's queue is."""
    if item.leader_role_id is not None:
        rows = LeaderRole.objects.filter(pk=item.leader_role_id, holder__in=user_ids)
        return list(rows.values_list("holder__username", flat=True))
    if item.department_id is None:
        return []
    department = Department.objects.filter(pk=item.department_id)
    if item.for_head:
        return list(department.filter(head__in=user_ids).values_list("head__username", flat=True))
    return list(department.filter(staff__in=user_ids).values_list("staff__username", flat=True))


def stand_ins_of(person_ids, today: dt.date | None = None) -> dict[int, list]:
    """Who stands in for each of `person_ids` today: {person id: [Substitution, ...]}, with
    the substitute (and their profile) and the person loaded (one query, however many)."""
    ids = {pk for pk in person_ids if pk is not None}
    found: dict[int, list] = {}
    if not ids:
        return found
    rows = (
        _active(today)
        .filter(person__in=ids, substitute__is_active=True)
        .select_related("substitute__profile", "person")
        .order_by("person_id", "starts_on", "pk")
    )
    for row in rows:
        found.setdefault(row.person_id, []).append(row)
    return found
