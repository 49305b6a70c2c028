"""The audit trail's API paging: by id, newest first, with `before`/`after` links instead of
DRF's limit/offset, so no page counts or skips the whole trail (docs in README)."""

from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from workflows.api.errors import BadRequest
from workflows.common.bounds import InputRejected
from workflows.common.keyset import keyset_bound, keyset_page


class KeysetPagination(BasePagination):
    """`?before=<id>` (older), `?after=<id>` (newer), `limit` (1-500, default 50); answers
    `{"next", "previous", "results"}` without a count."""

    default_limit = 50
    max_limit = 500

    def _limit(self, request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return self.default_limit
        if not raw.isdigit() or int(raw) < 1 or int(raw) >= 2**63:
            raise BadRequest("limit must be a whole number of at least 1.")
        return min(int(raw), self.max_limit)

    def paginate_queryset(self, queryset, request, view=None):
        if "offset" in request.query_params:
            raise BadRequest("offset: this list pages by id; follow the next link (before=).")
        try:
            before = keyset_bound(request.query_params.get("before"), field="before")
            after = keyset_bound(request.query_params.get("after"), field="after")
        except InputRejected as exc:
            raise BadRequest(str(exc)) from exc
        if before is not None and after is not None:
            raise BadRequest("before and after: give one of them.")
        self.request = request
        self.page = keyset_page(queryset, size=self._limit(request), before=before, after=after)
        return self.page.rows

    def _link(self, name: str, value: int | None) -> str | None:
        if value is None:
            return None
        url = self.request.build_absolute_uri()
        for other in ("before", "after"):
            url = remove_query_param(url, other)
        return replace_query_param(url, name, value)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link("before", self.page.older),
                "previous": self._link("after", self.page.newer),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The older page (`before=`), null at the end"},
                "previous": {**link, "description": "The newer page (`after=`), null at the top"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        def integer(name, description, minimum):
            return {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {"type": "integer", "minimum": minimum},
            }

        return [
            integer("limit", "Rows per page (at most 500; default 50)", 1),
            integer("before", "Only rows with a smaller id (the next link)", 0),
            integer("after", "Only rows with a larger id (the previous link)", 0),
        ]
