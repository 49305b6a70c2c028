"""API views for reports: list, request, status and download."""

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response

from workflows.api.errors import BadRequest, error_responses
from workflows.api.inputs import ReportRequestInput, parse_input, reject_empty_filters
from workflows.cases import selectors
from workflows.common import reach as access
from workflows.models import (
    Report,
    ReportKind,
)
from workflows.reports import services as reports_services
from workflows.reports.filters import ReportFilterForm


class ReportSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id", allow_null=True, read_only=True)
    measure = serializers.CharField(source="case.measure.code", allow_null=True, default=None)
    aspect = serializers.CharField(source="aspect.code", allow_null=True, default=None)
    requested_by = serializers.CharField(
        source="requested_by.username", allow_null=True, default=None
    )
    # A plain string: an enum here would collide with the task status enum's component name.
    status = serializers.CharField(help_text="queued, rendering, ready or failed")
    download_url = serializers.SerializerMethodField(
        help_text="The access-checked, audited download; null until the report is ready"
    )

    class Meta:
        model = Report
        fields = [
            "id",
            "kind",
            "scope",
            "case",
            "measure",
            "aspect",
            "version",
            "status",
            "progress",
            "sha256",
            "size",
            "requested_by",
            "created_at",
            "as_of",
            "finished_at",
            "download_url",
        ]

    def get_download_url(self, report) -> str | None:
        if not report.is_ready:
            return None
        url = reverse("workflows:report_download", args=[report.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


_REPORT_FILTERS = [
    OpenApiParameter("kind", str, enum=ReportKind.values),
    OpenApiParameter("measure", str, description="Measure code, e.g. 2.2"),
    OpenApiParameter("aspect", str, description="Aspect code, e.g. 2"),
    OpenApiParameter("status", str, enum=["queued", "rendering", "ready", "failed"]),
]


@extend_schema(tags=["reports"])
class ReportViewSet(viewsets.GenericViewSet):
    """PDF reports the caller may see; programme reports are requested here and render later."""

    serializer_class = ReportSerializer
    # Requesting a programme report reads the programme; it changes nothing on a case.
    auditors_may_post = True

    def get_queryset(self) -> QuerySet[Report]:
        return selectors.report_list(self.request.user)

    @extend_schema(
        operation_id="report_list",
        parameters=_REPORT_FILTERS,
        responses={200: ReportSerializer(many=True), **error_responses(400)},
    )
    def list(self, request):
        """Reports the caller may see, newest first; filter by kind, measure, aspect, status."""
        reject_empty_filters(request)
        filters = ReportFilterForm(request.query_params)
        if not filters.is_valid():
            raise exceptions.ValidationError(filters.errors.get_json_data())
        criteria = {key: value for key, value in filters.cleaned_data.items() if value}
        page = self.paginate_queryset(selectors.report_list(request.user, **criteria))
        return self.get_paginated_response(
            ReportSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        operation_id="report_get", responses={200: ReportSerializer, **error_responses(404)}
    )
    def retrieve(self, request, pk):
        """One report (poll it until its status is ready or failed)."""
        return Response(ReportSerializer(self.get_object(), context={"request": request}).data)

    @extend_schema(
        operation_id="report_request",
        request=ReportRequestInput,
        responses={202: ReportSerializer, **error_responses(400, 403, 404)},
    )
    def create(self, request):
        """Request a programme report (coordinators, auditors, leaders) or a new completion
        report version (coordinators); answers 202 with the queued row."""
        data = parse_input(ReportRequestInput, request)
        if data["kind"] == ReportKind.PROGRAMME:
            report = reports_services.report_request_programme(
                by=request.user, aspect=data["aspect"]
            )
        else:
            if data["case"] is None:
                raise BadRequest("case: a completion report names its case.")
            case = access.case_list_visible(request.user).filter(pk=data["case"]).first()
            if case is None:
                raise Http404
            report = reports_services.report_request_completion(case=case, by=request.user)
        report = self.get_queryset().get(pk=report.pk)
        return Response(
            ReportSerializer(report, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )
