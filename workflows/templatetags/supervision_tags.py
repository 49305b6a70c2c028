"""Supervision blocks that shared pages include: a case's panel and the latest bulletin."""

from django import template
from django.utils import timezone

from workflows.appraisal import scoring as appraisal
from workflows.models import CycleStatus, OrderStatus
from workflows.supervision import lights

register = template.Library()


@register.inclusion_tag("workflows/supervision/_case_panel.html")
def supervision_panel(case):
    """Lights on both axes with their history, missed reports, open orders and instructions."""
    return {
        "case": case,
        "light": getattr(case, "light", None),
        "history": lights.light_history(case),
        "missed": case.cycles.filter(status=CycleStatus.MISSED).order_by("period_start"),
        "orders": case.supervision_orders.filter(status=OrderStatus.OPEN),
        "instructions": case.instructions.filter(replied_at__isnull=True).select_related("leader"),
        "now": timezone.now(),
    }


@register.inclusion_tag("workflows/supervision/_bulletin_summary.html")
def latest_bulletin(organisation=None):
    """The federation's latest month: its best and lagging departments, for the dashboard."""
    return {"bulletin": appraisal.bulletin_latest(organisation) if organisation else None}
