"""The search results page: measures, cases and people grouped by kind (workflows.cases.search)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from workflows.cases import search as finder


@login_required
@require_GET
def search_page(request):
    """Results for `?q=`, grouped by kind; `?kind=` pages through one kind."""
    query = finder.clean_search_input(request.GET)
    groups = finder.search(request.user, query) if query.q else []
    return render(
        request,
        "workflows/search.html",
        {"query": query, "groups": groups, "kinds": finder.KINDS},
    )
