"""A case's RAG follows the facts (issue 17): one rule, in one function.

The rule: a case's RAG is the worse of its two lights (deadline and progress; a yellow light
reads as amber), raised to amber while returned work waits to be redone and approved, unless
an escalation rung turned the case red (that red stays until a person clears it). So the
amber a return causes clears once the returned work is approved and both lights are green.
"""

from django.utils.translation import gettext_lazy as _

from workflows.models import AuditEvent, Outcome, Rag, WorkItem
from workflows.models.supervision import Light

RAG_RULE_HELP = _(
    "RAG is the worse of the two lights (deadline and progress), amber while returned work "
    "awaits approval, and red once an escalation rung turned the case red."
)

_ORDER = {Rag.GREEN: 0, Rag.AMBER: 1, Rag.RED: 2}
_FROM_LIGHT = {Light.GREEN: Rag.GREEN, Light.YELLOW: Rag.AMBER, Light.RED: Rag.RED}


def rag_rule(*, deadline: str, progress: str, return_outstanding: bool, red_by_rung: bool) -> str:
    """The case's RAG from its facts (pure: no database)."""
    if red_by_rung:
        return Rag.RED
    worst = max((_FROM_LIGHT[deadline], _FROM_LIGHT[progress]), key=_ORDER.__getitem__)
    if return_outstanding and _ORDER[worst] < _ORDER[Rag.AMBER]:
        return Rag.AMBER
    return worst


def return_outstanding(case, outcome: str) -> bool:
    """Whether returned work still waits for approval: the case's latest decision (approve or
    return) was a return."""
    if outcome in (Outcome.RETURNED, Outcome.APPROVED):
        return outcome == Outcome.RETURNED
    last = (
        WorkItem.objects.filter(case=case, outcome__in=(Outcome.RETURNED, Outcome.APPROVED))
        .order_by("-finished_at", "-pk")
        .values_list("outcome", flat=True)
        .first()
    )
    return last == Outcome.RETURNED


def case_rag_settle(*, case, light, outcome: str) -> str:
    """Apply the rule to a case after a task ends (services._finish); stores a change."""
    red_by_rung = AuditEvent.objects.filter(case=case, verb="escalated", data__rag=Rag.RED).exists()
    rag = rag_rule(
        deadline=light.deadline,
        progress=light.progress,
        return_outstanding=return_outstanding(case, outcome),
        red_by_rung=red_by_rung,
    )
    if rag != case.rag:
        case.rag = rag
        case.save(update_fields=["rag"])
    return rag
