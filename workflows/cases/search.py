"""The search box: measures, cases and people by code, title or name, within the user's reach.

Cases come from `Reach.cases()` and people from `Reach.bounded()` (common/reach.py, the one rule
of reach); measures are the catalogue, which everyone reads. Each kind is one count and one page
query, whatever the data; cases add one query for the measures and organisations the words name.

At national scale (90,000 cases, 117,000 people, issue 20) the words are matched against the
small tables (30 measures, 3,000 organisations) once, never once per case row, and the counts
stop at COUNT_CEILING past the page (cases/listing.py's `CappedPaginator`, the one capped
count of the web pages). People and organisations are matched through trigram indexes on
PostgreSQL (migration 0028).
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.paginator import Page
from django.db.models import Q, QuerySet, Value
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.cases.listing import CappedPaginator
from workflows.common import bounds
from workflows.common.reach import organisation_list_visible, reach_of
from workflows.models import Case, Measure

MAX_QUERY_LENGTH = 100
MAX_WORDS = 5
# A group's first page on the overview; a kind of its own (`?kind=`) pages by PAGE_SIZE.
OVERVIEW_SIZE = 5
PAGE_SIZE = 20
# Counts stop this far past the page's first row: "1000+" reads as well as "9003" and costs a
# fraction (as the API's CappedCountPagination).
KINDS = {
    "measures": gettext_lazy("Measures"),
    "cases": gettext_lazy("Cases"),
    "people": gettext_lazy("People"),
}


@dataclass(frozen=True)
class SearchInput:
    q: str
    kind: str  # "" for every kind
    page: int


def clean_search_input(params) -> SearchInput:
    """The search parameters checked: control characters removed, whitespace collapsed; raises
    bounds.InputRejected (a 400 naming the field) for a long query, an unknown kind or page."""
    q = " ".join(bounds.clean_text(params.get("q", "")).split())
    if len(q) > MAX_QUERY_LENGTH:
        raise bounds.InputRejected(
            "q", _("At most %(count)d characters.") % {"count": MAX_QUERY_LENGTH}
        )
    kind = params.get("kind", "") or ""
    if kind and kind not in KINDS:
        raise bounds.InputRejected("kind", _("Must be one of: %s.") % ", ".join(KINDS))
    raw_page = params.get("page", "") or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= 10_000:
        raise bounds.InputRejected("page", _("A whole number from 1 to 10000."))
    return SearchInput(q=q, kind=kind, page=int(raw_page))


def _words(q: str) -> list[str]:
    return q.split()[:MAX_WORDS]


def _matching(queryset: QuerySet, q: str, fields: tuple[str, ...]) -> QuerySet:
    """Rows where every word of `q` is in one of `fields` (case-insensitive)."""
    for word in _words(q):
        any_field = Q()
        for name in fields:
            any_field |= Q(**{f"{name}__icontains": word})
        queryset = queryset.filter(any_field)
    return queryset


def measure_search(user, q: str) -> QuerySet[Measure]:
    """Catalogue measures whose code or title (English or Chinese) holds every word."""
    if not q:
        return Measure.objects.none()
    measures = Measure.objects.select_related("aspect").order_by("code")
    return _matching(measures, q, ("code", "title_en", "title_zh"))


# A word naming more organisations than this (`federation`, `scale`: all 3,000) is passed to
# the cases' query as the organisations' own query, not as thousands of literal ids that cost
# more to send and plan than to run.
INLINE_ORGANISATIONS = 200


@dataclass
class _Named:
    """What one word names: measures and organisations (within the user's bound)."""

    measures: set[int]
    organisations: set[int]
    organisation_rows: QuerySet


def _named_by_words(user, q: str) -> list[_Named]:
    """For each word of `q`, the measures and the organisations within the user's bound whose
    code or title holds it. One query, on the two small tables."""
    named, parts = [], []
    for index, word in enumerate(_words(q)):
        measures = _matching(Measure.objects.all(), word, ("code", "title_en", "title_zh"))
        organisations = _matching(
            organisation_list_visible(user), word, ("code", "title_en", "title_zh")
        ).order_by()
        named.append(_Named(set(), set(), organisations))
        for kind, rows in (("m", measures), ("o", organisations)):
            parts.append(rows.order_by().values_list(Value(index), Value(kind), "pk"))
    for index, kind, pk in parts[0].union(*parts[1:], all=True):
        (named[index].measures if kind == "m" else named[index].organisations).add(pk)
    return named


def case_search(user, q: str) -> QuerySet:
    """The cases the user may see whose measure (code, title) or organisation (code, title)
    holds every word."""
    cases = reach_of(user).cases()
    if not q:
        return cases.none()
    # Each word: the case's measure or its organisation is among those the word names. Ids,
    # not joins: PostgreSQL reads the cases through their measure and organisation indexes
    # instead of testing six LIKEs on every one of 90,000 rows (3.9 s for a national
    # coordinator's `2.2`, issue 20).
    for word in _named_by_words(user, q):
        if not word.measures | word.organisations:
            return cases.none()
        organisations = (
            sorted(word.organisations)
            if len(word.organisations) <= INLINE_ORGANISATIONS
            else word.organisation_rows.values("pk")
        )
        cases = cases.filter(
            Q(measure__in=sorted(word.measures)) | Q(organisation__in=organisations)
        )
    cases = cases.select_related("measure", "organisation")
    return cases.order_by("measure__code", "organisation__path", "pk")


def people_search(user, q: str) -> QuerySet:
    """Active people at home within the user's bound whose username or name holds every word."""
    users = get_user_model().objects.filter(is_active=True)
    if not q:
        return users.none()
    users = reach_of(user).bounded(users, "profile__organisation")
    users = users.select_related("profile__organisation")
    fields = ("username", "first_name", "last_name")
    return _matching(users, q, fields).order_by("username")


SEARCHES = {"measures": measure_search, "cases": case_search, "people": people_search}


def _cases_by_pk(pks: list[int]) -> QuerySet[Case]:
    return Case.objects.select_related("measure", "organisation").filter(pk__in=pks)


# Kinds whose page is found as keys first, then loaded by key: sorting 3,000 matching cases
# with their process, measure and organisation rows attached cost more than the rest of the
# search (58 ms of a national coordinator's `2.2`); sorting the keys alone does not.
LOADERS = {"cases": _cases_by_pk}


def _paginator(rows: QuerySet, size: int, number: int, load=None) -> CappedPaginator:
    """The one capped paginator (cases/listing.py) over a kind's rows; with `load`, the page's
    keys are read in order first and the rows then loaded by key (`load(keys)`), one query
    more, so no search sorts thousands of wide rows to show five."""

    def page_rows(offset: int, limit: int, _capped: bool) -> list:
        if load is None:
            return list(rows[offset : offset + limit])
        keys = list(rows.values_list("pk", flat=True)[offset : offset + limit])
        loaded = {row.pk: row for row in load(keys)} if keys else {}
        return [loaded[key] for key in keys]

    return CappedPaginator(rows, size, asked=number, rows=page_rows)


@dataclass
class Group:
    kind: str
    title: str
    page: Page


def search(user, query: SearchInput) -> list[Group]:
    """Each kind asked for (all three by default), one page of it: two queries per kind (and
    one for the measures and organisations the words name, for cases)."""
    kinds = [query.kind] if query.kind else list(KINDS)
    size = PAGE_SIZE if query.kind else OVERVIEW_SIZE
    number = query.page if query.kind else 1
    groups = []
    for kind in kinds:
        rows = SEARCHES[kind](user, query.q)
        groups.append(
            Group(
                kind,
                str(KINDS[kind]),
                _paginator(rows, size, number, LOADERS.get(kind)).get_page(number),
            )
        )
    return groups
