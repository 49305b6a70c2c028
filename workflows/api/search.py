"""`GET /api/v1/search/?q=`: the search box's results as JSON (workflows.cases.search)."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from workflows.api.errors import error_responses
from workflows.cases import search as finder
from workflows.common import page_cache

# Seconds a result is kept (the change stamp retires it at the next write in reach).
SEARCH_CACHE_SECONDS = 60


class SearchHitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(finder.KINDS))
    id = serializers.IntegerField()
    code = serializers.CharField(help_text="Measure code, case's measure code, or username")
    title = serializers.CharField(help_text="Title (active language), or the person's name")
    organisation = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_blank=True, help_text="The case page; blank otherwise")


def _hit(kind: str, row) -> dict:
    if kind == "measures":
        return {
            "kind": kind,
            "id": row.pk,
            "code": row.code,
            "title": row.title,
            "organisation": "",
            "url": "",
        }
    if kind == "cases":
        return {
            "kind": kind,
            "id": row.pk,
            "code": row.measure.code,
            "title": row.measure.title,
            "organisation": row.organisation.code,
            "url": reverse("workflows:case", args=[row.pk]),
        }
    profile = getattr(row, "profile", None)
    organisation = profile.organisation.code if profile and profile.organisation else ""
    return {
        "kind": kind,
        "id": row.pk,
        "code": row.username,
        "title": row.get_full_name() or row.username,
        "organisation": organisation,
        "url": "",
    }


class SearchView(GenericAPIView):
    """Measures, cases and people by code, title or name, within the caller's reach."""

    serializer_class = SearchHitSerializer
    pagination_class = None

    @extend_schema(
        operation_id="search",
        parameters=[
            OpenApiParameter("q", str, description="Words to find (at most 100 characters)"),
            OpenApiParameter("kind", str, enum=list(finder.KINDS), description="One kind only"),
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1, "maximum": 10000},
                description="With `kind`: which page (20 to a page)",
            ),
        ],
        responses={
            200: inline_serializer(
                "SearchResults",
                {
                    "q": serializers.CharField(),
                    "groups": inline_serializer(
                        "SearchGroup",
                        {
                            "kind": serializers.CharField(),
                            "count": serializers.IntegerField(
                                help_text="Exact below the page's offset + 1000; a floor at it"
                            ),
                            "capped": serializers.BooleanField(
                                help_text="Whether there may be more hits than `count`"
                            ),
                            "page": serializers.IntegerField(),
                            "pages": serializers.IntegerField(),
                            "results": SearchHitSerializer(many=True),
                        },
                        many=True,
                    ),
                },
            ),
            **error_responses(400),
        },
    )
    def get(self, request):
        """Each kind's page of hits (all kinds, 5 each, unless `kind` is given)."""
        query = finder.clean_search_input(request.query_params)
        if not query.q:
            return Response({"q": query.q, "groups": []})
        # Kept as the search page's results are (web/search.py): under the caller's change
        # stamp, reach key, language and time zone, per query, kind and page.
        key = page_cache.cache_key("api-search", request.user, query.q, query.kind, query.page)
        groups = page_cache.kept(
            key, lambda: _groups_data(request.user, query), SEARCH_CACHE_SECONDS
        )
        return Response({"q": query.q, "groups": groups})


def _groups_data(user, query: finder.SearchInput) -> list[dict]:
    return [
        {
            "kind": group.kind,
            "count": group.page.paginator.count,
            "capped": group.page.paginator.capped,
            "page": group.page.number,
            "pages": group.page.paginator.num_pages,
            "results": [_hit(group.kind, row) for row in group.page.object_list],
        }
        for group in finder.search(user, query)
    ]
