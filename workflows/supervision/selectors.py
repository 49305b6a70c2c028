"""Read-side queries for the supervision pages: who sees a feedback cycle, and as what."""

from dataclasses import dataclass

from django.shortcuts import get_object_or_404

from workflows.cases import selectors as case_selectors
from workflows.common import reach as access
from workflows.models import Case, Department, FeedbackCycle
from workflows.supervision.base import lead_member_may_act


@dataclass(frozen=True)
class CycleAccess:
    cycle: FeedbackCycle
    case: Case
    # The user's department among the measure's partners (they may give input), or None.
    partner: Department | None
    # Staff or head of the lead department, not an auditor: may write the cycle's report.
    lead_member: bool


def cycle_get_for_user(user, cycle_id: int) -> CycleAccess:
    """A feedback cycle with its case, as the user may see it: partner departments see the
    cycle they contribute to even without other access to the case; anyone else needs the
    case itself (Http404 otherwise, the same words whether missing or out of reach)."""
    cycle = get_object_or_404(
        FeedbackCycle.objects.select_related("case__measure", "report", "carried_from"), pk=cycle_id
    )
    partner = access.cycle_partner_department(user, cycle)
    if partner is None:
        case = case_selectors.case_get_visible(user, cycle.case_id)
    else:
        case = case_selectors.case_get_detail(cycle.case_id)
    return CycleAccess(
        cycle=cycle, case=case, partner=partner, lead_member=lead_member_may_act(user, case)
    )


def case_get_supervised(case_id: int) -> Case:
    """The case as its supervision page shows it: measure, organisation (who may urge) and
    lights joined in one query, none of the case page's other relations. Reach is the
    caller's (cases.selectors.case_check_visible)."""
    return Case.objects.select_related("measure", "organisation", "light").get(pk=case_id)
