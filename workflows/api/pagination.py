"""The API's pagination. Kept apart from the views because settings name it: DRF imports it while
`rest_framework.generics` is still loading, so this module imports no DRF views."""

from rest_framework import exceptions
from rest_framework.pagination import LimitOffsetPagination


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset, but a malformed value is a 400 instead of silently the default.

    Found by fuzzing the schema: `?offset=abc` answered 200 with the first page. `limit` is
    capped at `max_limit` (larger values are clamped, as DRF does, so no page is unbounded).
    """

    max_limit = 500

    def _strict(self, request, name: str, minimum: int) -> None:
        raw = request.query_params.get(name)
        if raw is None:
            return
        try:
            # Beyond a 64-bit integer PostgreSQL refuses the query (and aborts the transaction).
            valid = minimum <= int(raw) < 2**63
        except ValueError:
            valid = False
        if not valid:
            raise exceptions.ValidationError(
                f"{name} must be a whole number of at least {minimum}."
            )

    def paginate_queryset(self, queryset, request, view=None):
        self._strict(request, self.limit_query_param, 1)
        self._strict(request, self.offset_query_param, 0)
        return super().paginate_queryset(queryset, request, view)

    def window(self, request) -> tuple[int, int]:
        """The request's (limit, offset), checked as paginate_queryset checks them (a 400)."""
        self._strict(request, self.limit_query_param, 1)
        self._strict(request, self.offset_query_param, 0)
        return self.get_limit(request), self.get_offset(request)

    def paginate_known(self, request, *, count: int) -> None:
        """Ready get_paginated_response as paginate_queryset would, for a page read from the
        cache with its `count`: the links are built from this request."""
        self.request = request
        self.limit, self.offset = self.window(request)
        self.count = count

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        minimums = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            parameter["schema"]["minimum"] = minimums[parameter["name"]]
        return parameters


class CappedCountPagination(StrictLimitOffsetPagination):
    """Limit/offset whose `count` stops at `offset + count_ceiling`: a national list holds
    90,000 cases, and counting them all for every page cost more than reading the page. Below
    the ceiling the count is exact; at it, `count` is a floor and `next` still links on."""

    count_ceiling = 1000

    def get_count(self, queryset) -> int:
        ceiling = self.get_offset(self.request) + self.count_ceiling
        return queryset.order_by()[:ceiling].count()
