"""Launching a measure's case: the one service that starts MeasureFlow (the flow's nodes call
the case services below it, so launching sits above the flow).
"""

from django.db import IntegrityError, transaction

from workflows.audit.trail import audit_record
from workflows.common import reach as access
from workflows.models import (
    Case,
    Measure,
    Organisation,
)
from workflows.supervision import lights


def case_launch(
    *,
    measure: Measure,
    by,
    organisation: Organisation | None = None,
    parent_case: Case | None = None,
    deadline_cap=None,
):
    """Start the measure's case; returns (case, created). Never two open cases per organisation.

    `parent_case` and `deadline_cap` are set by cascading (workflows.cases.cascade).
    """
    from workflows.cases.flow import MeasureFlow

    organisation = organisation or Organisation.national()
    if by is not None:
        access.check_can_coordinate(by, organisation)
    existing = Case.objects.filter(measure=measure, organisation=organisation, is_open=True).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            case = MeasureFlow.start.run(
                measure=measure,
                organisation=organisation,
                launched_by=by,
                parent_case=parent_case,
                deadline_cap=deadline_cap,
            )
            data = {"measure": measure.code, "organisation": organisation.code}
            if parent_case is not None:
                data.update(parent_case=parent_case.pk, deadline_cap=deadline_cap)
            audit_record(verb="case_launched", actor=by, case=case, data=data)
            lights.case_lights_refresh(case=case)
    except IntegrityError:
        # A concurrent launch won the partial unique index; return its case.
        existing = Case.objects.filter(measure=measure, organisation=organisation, is_open=True)
        return existing.get(), False
    return case, True
