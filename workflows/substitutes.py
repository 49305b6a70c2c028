"""Substitutes (代理): while a substitution is active, the person's tasks and notices reach the
substitute too, and either may act. Reach (workflows/access.py) reads `represented` to widen
the substitute's posts and assignments; separation of duties treats the pair as one
(`pair_of`); the audit trail records "on behalf of" (`on_behalf_of`).

A person names their own substitute; a coordinator may name one for someone away, within the
coordinator's federation. The substitute must be in the person's federation too.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .bounds import check_date
from .calendar import local_date
from .models import Department, LeaderRole, Substitution


def _today() -> dt.date:
    return local_date(timezone.now())


def _active(today: dt.date | None = None):
    today = today or _today()
    return Substitution.objects.filter(ended=False, starts_on__lte=today, ends_on__gte=today)


def represented(user) -> frozenset[int]:
    """The people `user` stands in for today (one query, kept on the user object)."""
    cached = getattr(user, "_reformflow_represented", None)
    if cached is not None:
        return cached
    ids = frozenset()
    if getattr(user, "is_authenticated", False):
        ids = frozenset(
            _active().filter(substitute=user).order_by().values_list("person_id", flat=True)
        )
        user._reformflow_represented = ids
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


def substitution_set(*, person, substitute, starts_on, ends_on, by) -> Substitution:
    """Name `substitute` for `person` over the dates; by the person, or a coordinator of the
    person's federation. Audited."""
    from . import access
    from .audit import audit_record

    if access.is_auditor(by):
        raise PermissionDenied("Auditors have read-only access.")
    if by.pk != person.pk:
        home = access.user_organisation(person)
        if home is None or not access.can_coordinate(by, home):
            raise PermissionDenied(
                "Only the person, or a coordinator of their federation, names their substitute."
            )
    starts_on = check_date(starts_on, field="starts_on")
    ends_on = check_date(ends_on, field="ends_on")
    if ends_on < starts_on:
        raise ValidationError(_("The substitution must end on or after its first day."))
    if substitute.pk == person.pk:
        raise ValidationError(_("A person cannot stand in for themselves."))
    if not substitute.is_active or access.is_auditor(substitute):
        raise ValidationError(_("An auditor or an inactive account cannot be a substitute."))
    home = access.user_organisation(person)
    theirs = access.user_organisation(substitute)
    if home is not None and (theirs is None or not theirs.path.startswith(home.path)):
        raise ValidationError(_("The substitute must belong to the person's federation."))
    with transaction.atomic():
        row = Substitution.objects.create(
            person=person, substitute=substitute, starts_on=starts_on, ends_on=ends_on, set_by=by
        )
        audit_record(
            verb="substitute_named",
            actor=by,
            data={
                "person": person.get_username(),
                "substitute": substitute.get_username(),
                "starts_on": starts_on,
                "ends_on": ends_on,
            },
        )
    return row


def substitution_end(*, row: Substitution, by) -> None:
    from . import access
    from .audit import audit_record

    home = access.user_organisation(row.person)
    if by.pk != row.person_id and not (home and access.can_coordinate(by, home)):
        raise PermissionDenied("Only the person, or a coordinator of their federation.")
    with transaction.atomic():
        row.ended = True
        row.save(update_fields=["ended"])
        audit_record(
            verb="substitute_ended",
            actor=by,
            data={"person": row.person.get_username(), "substitute": row.substitute.get_username()},
        )


def substitutions_of(user):
    """The user's own current and future substitutions, and those they stand in for."""
    return (
        Substitution.objects.filter(Q(person=user) | Q(substitute=user))
        .filter(ended=False, ends_on__gte=_today())
        .select_related("person", "substitute")
    )
