"""API views for the programme and its cases: measures with their case per organisation,
launching a case, a case's detail and roll-up, cascading it.

Visibility comes first: anything on a case the caller cannot see is a 404. After that the
service decides, so a visible task the caller may not act on is the service's 403, with
its reason.
"""

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from workflows.api.cascade_jobs import CascadeJobSerializer, cascade_job_url
from workflows.api.errors import error_responses
from workflows.api.inputs import (
    SCOPE_PARAMETERS,
    CascadeInput,
    CascadeResultSerializer,
    LaunchInput,
    page_number,
    parse_input,
    scope_filters,
)
from workflows.api.pagination import CappedCountPagination
from workflows.api.serializers import (
    CaseDetailSerializer,
    CaseSerializer,
    MeasureRowSerializer,
    case_list_data,
    measure_rows_data,
)
from workflows.cases import cascade_jobs, selectors
from workflows.cases import launch as cases_launch
from workflows.common import change_stamp, page_cache
from workflows.common import reach as access
from workflows.common.db_router import replica_view
from workflows.models import (
    CascadeJob,
    Case,
    LeaderRole,
)

# As long as the dashboard's programme (web/dashboard.PROGRAMME_CACHE_SECONDS): what time alone
# changes (a task falling overdue shows in `rag` after the lights sweep, which bumps) and writes
# made outside the code show within a minute.
API_LIST_CACHE_SECONDS = 60


@extend_schema(tags=["measures"])
class MeasureListView(GenericAPIView):
    """The programme: every measure with the latest case the caller can see."""

    serializer_class = MeasureRowSerializer
    pagination_class = None

    @extend_schema(
        operation_id="measure_list",
        parameters=[
            *SCOPE_PARAMETERS,
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                description="With `level`: which page of cases (50 to a page, in measure and "
                "organisation order); the X-Total-Count and X-Page-Count headers give the size",
            ),
        ],
        responses={200: MeasureRowSerializer(many=True), **error_responses(400)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """Every measure with the latest case the caller can see (status "none" if none).

        By default the caller's own organisation; `?organisation=` another one; `?level=`
        one row per visible case at that level (within `?organisation=`'s subtree if given),
        50 to a page (`?page=`).
        """
        organisation, level = scope_filters(request)
        page = page_number(request)
        user = request.user
        key = page_cache.cache_key(
            "api-measures",
            request.user,
            access.user_organisation_id(user),
            organisation.pk if organisation else None,
            level or "",
            page if level else 1,
        )
        data, headers = page_cache.kept(
            key, lambda: _measure_rows(user, organisation, level, page), API_LIST_CACHE_SECONDS
        )
        return Response(data, headers=headers)


def _measure_rows(user, organisation, level, page) -> tuple[list[dict], dict[str, str]]:
    """The measures list's body and headers, read afresh."""
    programme = selectors.programme_rows(user, organisation=organisation, level=level, page=page)
    rows = [row for _aspect, rows in programme for row in rows]
    leader_ids = {row.measure.supervising_leader_id for row in rows}
    leader_keys = dict(
        LeaderRole.objects.filter(pk__in=leader_ids).order_by().values_list("pk", "key")
    )
    headers = {}
    if programme.page is not None:
        headers = {
            "X-Total-Count": str(programme.page.paginator.count),
            "X-Page-Count": str(programme.page.paginator.num_pages),
        }
    return measure_rows_data(rows, leader_keys), headers


@extend_schema(tags=["cases"])
class CaseViewSet(viewsets.GenericViewSet):
    """Cases the caller can see; coordinators launch them."""

    serializer_class = CaseSerializer
    pagination_class = CappedCountPagination

    def get_queryset(self) -> QuerySet[Case]:
        return (
            access.case_list_visible(self.request.user)
            .select_related(
                "measure",
                "organisation__level",
                "lead_department",
                "supervising_leader",
                "current_step",
                "launched_by",
            )
            .order_by("-created", "-pk")
        )

    @extend_schema(
        operation_id="case_list",
        parameters=SCOPE_PARAMETERS,
        responses={200: CaseSerializer(many=True), **error_responses(400)},
    )
    def list(self, request):
        """Cases the caller can see, newest first (`count` stops at offset + 1,000)."""
        organisation, level = scope_filters(request)
        paginator = self.paginator
        limit, offset = paginator.window(request)
        key = page_cache.cache_key(
            "api-cases",
            request.user,
            organisation.pk if organisation else None,
            level or "",
            limit,
            offset,
            paginator.count_ceiling,
        )
        cached = cache.get(key)
        if cached is None:
            visible = access.case_list_visible(request.user)
            if organisation is not None:
                visible = visible.filter(organisation=organisation)
            if level is not None:
                visible = visible.filter(organisation__level__key=level)
            # The page's ids are picked alone, then its rows read as plain values (same output
            # as CaseSerializer, whose fields cost more than the queries; tests/test_api.py).
            ids = paginator.paginate_queryset(
                visible.order_by("-created", "-pk").values_list("pk", flat=True), request, self
            )
            cached = (paginator.count, case_list_data(selectors.case_list_rows(ids)))
            cache.set(key, cached, change_stamp.keep_seconds(API_LIST_CACHE_SECONDS))
        else:
            paginator.paginate_known(request, count=cached[0])
        return paginator.get_paginated_response(cached[1])

    @extend_schema(
        operation_id="case_get", responses={200: CaseDetailSerializer, **error_responses(404)}
    )
    def retrieve(self, request, pk):
        """One case with all its tasks, in order, and its progress updates."""
        return Response(CaseDetailSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="case_launch",
        request=LaunchInput,
        responses={
            201: CaseDetailSerializer,
            200: OpenApiResponse(CaseDetailSerializer, description="The case already open"),
            **error_responses(400, 403),
        },
    )
    def create(self, request):
        """Launch a measure's case in the coordinator's own federation (coordinators); an
        already open case is returned."""
        access.check_can_coordinate(request.user)
        data = parse_input(LaunchInput, request)
        case, created = cases_launch.case_launch(
            measure=data["measure"],
            by=request.user,
            organisation=access.organisation_default(request.user),
        )
        return Response(
            CaseDetailSerializer(self.get_queryset().get(pk=case.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="case_cascade",
        request=CascadeInput,
        responses={
            201: CascadeResultSerializer,
            200: OpenApiResponse(CascadeResultSerializer, description="Every child case existed"),
            202: OpenApiResponse(
                CascadeJobSerializer, description="Many federations: queued as a background job"
            ),
            **error_responses(400, 403, 404),
        },
    )
    def cascade(self, request, pk):
        """Cascade to organisations directly below, by code or a whole level (coordinators)."""
        case = self.get_object()
        data = parse_input(CascadeInput, request)
        result = cascade_jobs.cascade_request(
            case=case,
            by=request.user,
            organisations=data.get("organisations"),
            level=data.get("level"),
        )
        if isinstance(result, CascadeJob):
            # Many federations: a background job; its progress is at Location.
            return Response(
                CascadeJobSerializer(result).data,
                status=status.HTTP_202_ACCEPTED,
                headers={"Location": cascade_job_url(result)},
            )
        ids = [c.pk for c in [*result.created, *result.existing]]
        fresh = self.get_queryset().in_bulk(ids)
        body = {
            "created": CaseSerializer([fresh[c.pk] for c in result.created], many=True).data,
            "existing": CaseSerializer(
                [fresh[c.pk] for c in result.existing if c.pk in fresh], many=True
            ).data,
        }
        return Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )
