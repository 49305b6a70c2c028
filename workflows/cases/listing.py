"""Filters, sort and paging of task lists (inbox, queue; the my-work list can reuse it), and
the paging of the dashboard's case list (a capped count, the page's ids picked alone).

`parse_list_params` checks the query string once (a 400 naming the field when it is bad),
`apply_list_filters` narrows an already reach-checked queryset (it never widens one), and
`ListParams.querystring` rebuilds the query for pager links and saved views.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import cached_property
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.common import bounds
from workflows.models import Case, Measure, Outcome, StepKind, WorkItem

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


# --------------------------------------------------------------------------- case pages

# How far past the page asked for a case list counts: a national list holds 90,000 cases, and
# counting them all for every page cost more than reading the page (as the API's cases).
COUNT_CEILING = 1000


class CappedPaginator(Paginator):
    """A Paginator whose count stops COUNT_CEILING rows past the start of the page asked for
    (`capped` then says the count is a floor), and whose page rows come from `rows(offset,
    limit, capped)`: a list page picks its ids alone and loads their relations after."""

    def __init__(self, counted: QuerySet, per_page: int, *, asked, rows, ceiling=None):
        super().__init__(counted, per_page)
        try:
            self.asked = max(1, int(asked))
        except (TypeError, ValueError):
            self.asked = 1
        self.ceiling = COUNT_CEILING if ceiling is None else ceiling
        self.rows = rows
        self.capped = False

    @cached_property
    def count(self) -> int:
        limit = min((self.asked - 1) * self.per_page, 2**62) + self.ceiling
        counted = self.object_list.order_by()[: limit + 1].count()
        self.capped = counted > limit
        return min(counted, limit)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        return self._get_page(self.rows(bottom, top - bottom, self.capped), number, self)


def case_ids_by_measure(
    cases: QuerySet[Case], *, measures: Iterable[Measure], descending: bool, offset: int, limit: int
) -> list[int] | None:
    """The ids of `cases` from `offset`, in the dashboard's measure order (aspect and measure
    position, the first descending if asked, then organisation code and id; `measures`: every
    measure, with its aspect); None where the database cannot read them this way (SQLite: the
    caller sorts in one query).

    Sorting every visible case by four columns of three tables read all 90,000 of a national
    list for each page. Here each measure's cases are sorted alone (through the case's
    measure index), measure after measure in order, and PostgreSQL stops at the page's last
    row: page one reads a measure or two."""
    connection = connections[cases.db]
    if connection.vendor != "postgresql" or limit <= 0:
        return None
    keys = {
        m.pk: (-m.aspect.position if descending else m.aspect.position, m.position)
        for m in measures
    }
    if not keys:
        return []
    rank = {key: at for at, key in enumerate(sorted(set(keys.values())))}
    inner = (
        cases.filter(measure_id=RawSQL("m.measure_id", ()))
        .order_by("organisation__code", "pk")
        .values_list("pk", "organisation__code")[: offset + limit]
    )
    inner_sql, inner_params = inner.query.sql_with_params()
    measures = ", ".join(["(%s, %s)"] * len(keys))
    # Only placeholders and the ORM's own SQL are put together here; every value is a param.
    head = (
        "SELECT page.pk FROM (SELECT * FROM (VALUES %s) AS v(rank, measure_id) ORDER BY rank) AS m"
    )
    lateral = " CROSS JOIN LATERAL (%s) AS page(pk, code)"
    tail = " ORDER BY m.rank, page.code, page.pk LIMIT %s OFFSET %s"
    sql = head.replace("%s", measures) + lateral.replace("%s", inner_sql) + tail
    params = [value for pk, key in keys.items() for value in (rank[key], pk)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *inner_params, limit, offset])
        return [row[0] for row in cursor.fetchall()]
