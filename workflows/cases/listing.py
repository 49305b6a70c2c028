"""Filters, sort and paging of task lists (inbox, queue; the my-work list can reuse it).

`parse_list_params` checks the query string once (a 400 naming the field when it is bad),
`apply_list_filters` narrows an already reach-checked queryset (it never widens one), and
`ListParams.querystring` rebuilds the query for pager links and saved views.
"""

from dataclasses import dataclass, fields
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.common import bounds
from workflows.models import Outcome, StepKind, WorkItem

SORTS = {
    "due": ("due_at", "created_at", "pk"),
    "-due": ("-due_at", "-created_at", "-pk"),
    "measure": ("case__measure__code", "due_at", "pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
}
SORT_LABELS = {
    "due": gettext_lazy("Due first"),
    "-due": gettext_lazy("Due last"),
    "measure": gettext_lazy("Measure"),
    "created": gettext_lazy("Oldest first"),
    "-created": gettext_lazy("Newest first"),
}
_FLAGS = ("", "1")
_MAX_CODE = 20


@dataclass(frozen=True)
class ListParams:
    measure: str = ""  # a measure code, or an aspect code (every measure of that aspect)
    kind: str = ""  # a StepKind
    overdue: str = ""  # "1": only tasks past their due date
    returned: str = ""  # "1": only tasks reopened after a return
    sort: str = "due"

    def querystring(self, **extra) -> str:
        """The non-default parameters (plus `extra`) as a query string, without "?"."""
        pairs = [
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) and getattr(self, f.name) != f.default
        ]
        pairs += [(key, value) for key, value in extra.items() if value]
        return urlencode(pairs)

    @property
    def filtered(self) -> bool:
        return bool(self.measure or self.kind or self.overdue or self.returned)


def parse_list_params(params) -> ListParams:
    """The list's parameters, checked; bounds.InputRejected (400) names a bad one."""
    measure = bounds.clean_text(params.get("measure", "")).strip()
    if len(measure) > _MAX_CODE:
        raise bounds.InputRejected("measure", _("At most %(count)d characters.") % {"count": 20})
    kind = params.get("kind", "") or ""
    if kind and kind not in StepKind.values:
        raise bounds.InputRejected("kind", _("Must be one of: %s.") % ", ".join(StepKind.values))
    for flag in ("overdue", "returned"):
        if (params.get(flag, "") or "") not in _FLAGS:
            raise bounds.InputRejected(flag, _("Must be 1 or empty."))
    sort = params.get("sort", "") or "due"
    if sort not in SORTS:
        raise bounds.InputRejected("sort", _("Must be one of: %s.") % ", ".join(SORTS))
    return ListParams(
        measure=measure,
        kind=kind,
        overdue=params.get("overdue", "") or "",
        returned=params.get("returned", "") or "",
        sort=sort,
    )


def apply_list_filters(queryset: QuerySet[WorkItem], params: ListParams) -> QuerySet[WorkItem]:
    """The rows of `queryset` that pass the filters, in the chosen order (still one query)."""
    if params.measure:
        queryset = queryset.filter(
            Q(case__measure__code=params.measure) | Q(case__measure__aspect__code=params.measure)
        )
    if params.kind:
        queryset = queryset.filter(kind=params.kind)
    if params.overdue:
        queryset = queryset.filter(due_at__lt=timezone.now())
    if params.returned:
        returned_before = WorkItem.objects.filter(
            case=OuterRef("case"), outcome=Outcome.RETURNED, finished_at__lte=OuterRef("created_at")
        )
        queryset = queryset.filter(Exists(returned_before))
    return queryset.order_by(*SORTS[params.sort])


def list_context(params: ListParams) -> dict:
    """What the filter form needs: the chosen values and the choices."""
    return {
        "params": params,
        "kind_choices": StepKind.choices,
        "sort_choices": list(SORT_LABELS.items()),
        "pager_query": params.querystring(),
    }
