"""The search box: measures, cases and people by code, title or name, within the user's reach.

Cases come from `Reach.cases()` and people from `Reach.bounded()` (access.py, the one rule of
reach); measures are the catalogue, which everyone reads. Each kind is one count and one page
query, whatever the data.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows.common import bounds
from workflows.common.reach import reach_of
from workflows.models import Measure

MAX_QUERY_LENGTH = 100
MAX_WORDS = 5
# A group's first page on the overview; a kind of its own (`?kind=`) pages by PAGE_SIZE.
OVERVIEW_SIZE = 5
PAGE_SIZE = 20
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


def case_search(user, q: str) -> QuerySet:
    """The cases the user may see whose measure (code, title) or organisation (code, title)
    holds every word."""
    if not q:
        return reach_of(user).cases().none()
    cases = reach_of(user).cases().select_related("measure", "organisation")
    fields = (
        "measure__code",
        "measure__title_en",
        "measure__title_zh",
        "organisation__code",
        "organisation__title_en",
        "organisation__title_zh",
    )
    return _matching(cases, q, fields).order_by("measure__code", "organisation__path", "pk")


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


@dataclass
class Group:
    kind: str
    title: str
    page: Page


def search(user, query: SearchInput) -> list[Group]:
    """Each kind asked for (all three by default), one page of it: two queries per kind."""
    kinds = [query.kind] if query.kind else list(KINDS)
    size = PAGE_SIZE if query.kind else OVERVIEW_SIZE
    number = query.page if query.kind else 1
    groups = []
    for kind in kinds:
        rows = SEARCHES[kind](user, query.q)
        groups.append(Group(kind, str(KINDS[kind]), Paginator(rows, size).get_page(number)))
    return groups
