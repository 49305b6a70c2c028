"""Substitutes (代理): naming one for a period, and ending it. While a substitution is active,
the person's tasks and notices reach the substitute too, and either may act: the rule of
reach reads common/substitution.py (`represented` widens the substitute's posts and
assignments, `pair_of` keeps separation of duties across the pair, `on_behalf_of` goes on the
audit event).

A person names their own substitute; a coordinator may name one for someone away, within the
coordinator's federation. The substitute must be in the person's federation too.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from workflows.audit.trail import audit_record
from workflows.common import reach as access
from workflows.common.bounds import check_date
from workflows.common.calendar import local_date
from workflows.models import Substitution


def substitution_set(*, person, substitute, starts_on, ends_on, by) -> Substitution:
    """Name `substitute` for `person` over the dates; by the person, or a coordinator of the
    person's federation. Audited."""
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
        .filter(ended=False, ends_on__gte=local_date(timezone.now()))
        .select_related("person", "substitute")
    )
