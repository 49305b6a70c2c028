"""The search results page: measures, cases and people grouped by kind (workflows.cases.search).

The results are rendered once per query, kind and page and kept under the reader's change
stamp, reach key, language and time zone (common/page_cache.cache_key): a write in their reach
retires them, and nobody with another reach or language is served them. The reach is worked
out on every request before the cache is read (the key is made of it)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET

from workflows.cases import search as finder
from workflows.common import page_cache

RESULTS_TEMPLATE = "workflows/_search_results.html"
# Seconds rendered results are kept: the change stamp retires them at the next write in the
# reader's reach; this bounds what the stamp does not see (people changed outside the admin).
RESULTS_CACHE_SECONDS = 60


def _results(request, query: finder.SearchInput) -> SafeString:
    def build() -> str:
        groups = finder.search(request.user, query) if query.q else []
        context = {"query": query, "groups": groups}
        return render_to_string(RESULTS_TEMPLATE, context, request)

    if not query.q:  # nothing to look up: the hint alone
        html = build()
    else:
        key = page_cache.cache_key("search", request.user, query.q, query.kind, query.page)
        html = page_cache.kept(key, build, RESULTS_CACHE_SECONDS)
    # A rendered (autoescaped) template, kept as is: marking it safe escapes nothing twice.
    return SafeString(html)  # nosec B703 B308


@login_required
@require_GET
def search_page(request):
    """Results for `?q=`, grouped by kind; `?kind=` pages through one kind."""
    query = finder.clean_search_input(request.GET)
    return render(
        request,
        "workflows/search.html",
        {"query": query, "results": _results(request, query)},
    )
