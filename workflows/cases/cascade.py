"""Cascading a measure's case down the federation tree, level by level.

Each child organisation gets its own case of the same measure (same step template, its own
departments and leaders), linked by `parent_case`, with `deadline_cap` so that none of its
tasks is due after the parent's overall deadline (deadlines.case_overall_deadline), which the
cap follows when it moves (deadlines.deadline_caps_follow). A second cascade to the same
organisation returns the case it already has.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from workflows.audit.trail import audit_record
from workflows.cases import launch, launch_many
from workflows.common import reach as access
from workflows.deadlines import due_dates as deadlines
from workflows.models import Case, Measure, Organisation, OrganisationLevel

# Children made per insert batch (and per transaction in a background job).
CASCADE_BATCH = 100


@dataclass
class CascadeResult:
    created: list[Case] = field(default_factory=list)
    existing: list[Case] = field(default_factory=list)


def cascade_deadline_cap(case: Case) -> dt.datetime | None:
    """The latest a child's task may be due: the parent's overall deadline (the projected due
    date of its last step, never after its own cap), or its own cap without an open task."""
    return deadlines.case_overall_deadline(case) or case.deadline_cap


def _check_applies(measure: Measure, level: OrganisationLevel) -> None:
    if level.key not in (measure.applies_to_levels or []):
        levels = OrganisationLevel.objects.filter(key__in=measure.applies_to_levels or [])
        names = [lv.title for lv in levels]  # in rank order
        raise ValidationError(
            _("Measure %(code)s does not apply to %(level)s; it applies to: %(levels)s.")
            % {"code": measure.code, "level": level.title, "levels": "; ".join(names) or "—"}
        )


def cascade_targets(
    *, case: Case, organisations: Iterable | None = None, level: str | None = None
) -> list[Organisation]:
    """The organisations a cascade reaches, checked: directly below the case's organisation,
    at a level the measure applies to. Raises ValidationError saying what is wrong."""
    if (organisations is None) == (level is None):
        raise ValidationError(_("Choose either organisations or one level to cascade to."))
    below = Organisation.objects.filter(parent=case.organisation).select_related("level")
    if level is not None:
        level_key = level.key if isinstance(level, OrganisationLevel) else str(level)
        level_row = OrganisationLevel.objects.filter(key=level_key).first()
        if level_row is None:
            raise ValidationError(
                _("There is no such organisation level: %(level)s.") % {"level": level_key}
            )
        _check_applies(case.measure, level_row)
        targets = list(below.filter(level=level_row).order_by("code"))
        if not targets:
            raise ValidationError(
                _("%(federation)s has none of %(level)s directly below it.")
                % {"federation": case.organisation.title, "level": level_row.title}
            )
        return targets
    codes = list(
        dict.fromkeys(o.code if isinstance(o, Organisation) else str(o) for o in organisations)
    )
    if not codes:
        raise ValidationError(_("Choose at least one organisation to cascade to."))
    found = {o.code: o for o in below.filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    if missing:
        raise ValidationError(
            _(
                "Not directly below %(federation)s: %(codes)s. Cascade level by level: each "
                "federation cascades to the ones right below it."
            )
            % {"federation": case.organisation.title, "codes": ", ".join(missing)}
        )
    targets = [found[code] for code in codes]
    for organisation in targets:
        _check_applies(case.measure, organisation.level)
    return targets


def case_cascade(
    *, case: Case, by, organisations: Iterable | None = None, level: str | None = None
) -> CascadeResult:
    """Give each chosen child organisation (or every child at `level`) its own case of the
    measure, capped by the parent's overall deadline. Idempotent: one child case per
    organisation."""
    access.check_can_coordinate(by, case.organisation)
    if not case.is_open:
        raise ValidationError(_("This case is completed; a completed case is not cascaded."))
    targets = cascade_targets(case=case, organisations=organisations, level=level)
    result = CascadeResult()
    with transaction.atomic():
        cap = cascade_deadline_cap(case)
        for start in range(0, len(targets), CASCADE_BATCH):
            created, existing = cascade_batch(
                case=case, by=by, targets=targets[start : start + CASCADE_BATCH], cap=cap
            )
            result.created += created
            result.existing += existing
        if result.created:
            cascade_audit(case=case, by=by, result=result, level=level, cap=cap)
    return result


def cascade_audit(*, case: Case, by, result: CascadeResult, level=None, cap=None, **extra):
    """The parent's `case_cascaded` event: which federations got a case, which had one."""
    audit_record(
        verb="case_cascaded",
        actor=by,
        case=case,
        data={
            "created": [c.organisation.code for c in result.created],
            "existing": [c.organisation.code for c in result.existing],
            "level": level.key if isinstance(level, OrganisationLevel) else level,
            "deadline_cap": cap,
            **extra,
        },
    )


def cascade_batch(
    *, case: Case, by, targets: list[Organisation], cap
) -> tuple[list[Case], list[Case]]:
    """Give the targets without one their child case, in one batch; returns (created, existing).
    Runs inside the caller's transaction."""
    # A child this case already has (open or done), or an open case the child organisation
    # launched on its own, counts as existing: never a second case per organisation.
    already: dict[int, Case] = {}
    for c in (
        Case.objects.filter(measure=case.measure, organisation__in=targets)
        .filter(Q(parent_case=case) | Q(is_open=True))
        .select_related("organisation")
        .order_by("-is_open", "-pk")
    ):
        already.setdefault(c.organisation_id, c)
    missing = [o for o in targets if o.pk not in already]
    existing = [already[o.pk] for o in targets if o.pk in already]
    try:
        with transaction.atomic():
            created = launch_many.cases_launch_many(
                measure=case.measure,
                by=by,
                organisations=missing,
                parent_case=case,
                deadline_cap=cap,
            )
    except IntegrityError:
        # A concurrent launch took one of them: one by one, each race answered by case_launch.
        created = []
        for organisation in missing:
            child, made = launch.case_launch(
                measure=case.measure,
                by=by,
                organisation=organisation,
                parent_case=case,
                deadline_cap=cap,
            )
            (created if made else existing).append(child)
    return created, existing


def cascade_choices(case: Case, user, *, uncascaded: bool = False) -> list[Organisation]:
    """Organisations directly below the case's that the measure applies to (for the form);
    `uncascaded`: only those still without their child case (in the same query)."""
    if not case.is_open or not access.can_coordinate(user, case.organisation):
        return []
    levels = case.measure.applies_to_levels or []
    below = Organisation.objects.filter(parent=case.organisation, level__key__in=levels)
    if uncascaded:
        below = below.exclude(pk__in=Case.objects.filter(parent_case=case).values("organisation"))
    return list(below.select_related("level").order_by("level__rank", "code"))
