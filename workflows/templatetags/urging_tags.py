"""The urge line on an item: who urged it last, and the button for those who may urge."""

from django import template

from workflows.supervision import urging

register = template.Library()


@register.inclusion_tag("workflows/_urge.html", takes_context=True)
def urge_panel(context, target: str, item, is_open: bool = True):
    """The item's last urge and, for coordinators and the supervising leader, an urge button.
    Reads the case's urges once per request."""
    request = context.get("request")
    cache = getattr(request, "_rf_urges", None)
    if cache is None:
        cache = request._rf_urges = {}
    if item.case_id not in cache:
        cache[item.case_id] = urging.case_urges_latest(item.case_id)
    user = request.user
    return {
        "target": target,
        "item": item,
        "last": cache[item.case_id].get((target, item.pk)),
        "may_urge": is_open and urging.may_urge(user, item.case),
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path(),
    }
