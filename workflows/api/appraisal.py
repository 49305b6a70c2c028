"""API views for the appraisal (scores and ranking, each entry with its audit events) and the
programme ledger as XLSX or DOCX.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from workflows.api.errors import error_responses
from workflows.api.supervision_base import (
    MAX_ID,
    ORGANISATION_PARAMETER,
    PERIOD_PARAMETER,
    organisation_param,
    period_param,
)
from workflows.appraisal import scoring as appraisal
from workflows.cases import selectors
from workflows.common import reach as access
from workflows.common.calendar import local_date
from workflows.common.db_router import replica_view
from workflows.models import (
    Department,
    ScoreEntry,
)
from workflows.reports import ledger


class RankingRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1 is the best; equal points and rate share a rank")
    department = serializers.CharField(source="department.key")
    title = serializers.CharField(source="department.title")
    points = serializers.IntegerField()
    on_time = serializers.IntegerField()
    overdue = serializers.IntegerField()
    returned = serializers.IntegerField()
    extended = serializers.IntegerField()
    due = serializers.IntegerField()
    on_time_rate = serializers.FloatField(allow_null=True, help_text="Percent; null if none due")
    scores_url = serializers.CharField(help_text="This department's score entries")


class AppraisalSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM")
    organisation = serializers.CharField()
    ranking = RankingRowSerializer(many=True)
    best = serializers.ListField(child=serializers.CharField())
    lagging = serializers.ListField(child=serializers.CharField())


class AuditLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    verb = serializers.CharField()
    created_at = serializers.DateTimeField()
    seq = serializers.IntegerField(
        allow_null=True, help_text="The event's place in the hash chain; null until sealed"
    )
    hash = serializers.CharField(
        allow_null=True, help_text="The event's hash in the chain; null until sealed"
    )


class ScoreEntrySerializer(serializers.ModelSerializer):
    department = serializers.CharField(source="department.key")
    case = serializers.SerializerMethodField(help_text="Null for a case you cannot see")
    task = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField()
    extension = serializers.IntegerField(source="extension_id", allow_null=True)
    event = serializers.SerializerMethodField(
        help_text="The audit event the point comes from (its id in /api/v1/audit/)"
    )

    class Meta:
        model = ScoreEntry
        fields = [
            "id",
            "period",
            "department",
            "kind",
            "points",
            "rule_points",
            "case",
            "task",
            "extension",
            "note",
            "event",
        ]

    def _visible(self, entry) -> bool:
        return entry.case_id in self.context["visible"]

    def get_case(self, entry) -> int | None:
        return entry.case_id if self._visible(entry) else None

    def get_task(self, entry) -> int | None:
        return entry.work_item_id if self._visible(entry) else None

    def get_note(self, entry) -> str:
        return entry.note if self._visible(entry) else ""

    @extend_schema_field(AuditLinkSerializer(allow_null=True))
    def get_event(self, entry):
        return AuditLinkSerializer(entry.event).data if entry.event_id else None


def _ranking_rows(bulletin, request) -> list[dict]:
    rows, rank, previous = [], 0, None
    base = request.build_absolute_uri("/api/v1/appraisal/scores")
    for position, score in enumerate(bulletin.ranking, start=1):
        key = (score.points, score.on_time_rate)
        rank = rank if key == previous else position
        previous = key
        rows.append(
            {
                "rank": rank,
                "department": score.department,
                "points": score.points,
                "on_time": score.on_time,
                "overdue": score.overdue,
                "returned": score.returned,
                "extended": score.extended,
                "due": score.due,
                "on_time_rate": score.on_time_rate,
                "scores_url": f"{base}?period={bulletin.period:%Y-%m}"
                f"&department={score.department.pk}",
            }
        )
    return rows


@extend_schema(tags=["appraisal"])
class AppraisalView(GenericAPIView):
    serializer_class = AppraisalSerializer

    @extend_schema(
        operation_id="appraisal_get",
        parameters=[ORGANISATION_PARAMETER, PERIOD_PARAMETER],
        responses={200: AppraisalSerializer, **error_responses(400, 404)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """A federation's month: its departments ranked among themselves, best first."""
        organisation = organisation_param(request)
        period = period_param(request, organisation)
        bulletin = appraisal.bulletin_get(period=period, organisation=organisation)
        body = {
            "period": f"{bulletin.period:%Y-%m}",
            "organisation": organisation.code,
            "ranking": _ranking_rows(bulletin, request),
            "best": [s.department.key for s in bulletin.best],
            "lagging": [s.department.key for s in bulletin.lagging],
        }
        return Response(AppraisalSerializer(body).data)


@extend_schema(tags=["appraisal"])
class ScoreListView(GenericAPIView):
    serializer_class = ScoreEntrySerializer

    @extend_schema(
        operation_id="appraisal_scores",
        parameters=[
            ORGANISATION_PARAMETER,
            PERIOD_PARAMETER,
            OpenApiParameter(
                "department",
                {"type": "integer", "minimum": 1},
                description="Only this department's entries (its id; within your reach)",
            ),
        ],
        responses={200: ScoreEntrySerializer(many=True), **error_responses(400, 404)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """The month's score entries of a federation's departments, each linked to the audit
        event behind it; case, task and note only for cases you may see."""
        department = request.query_params.get("department")
        if department is not None:
            if not department.isdigit() or not 0 < int(department) <= MAX_ID:
                raise exceptions.ValidationError({"department": ["A department id."]})
            departments = Department.objects.filter(
                organisation__in=selectors.organisation_list_visible(request.user)
            ).select_related("organisation")
            department = get_object_or_404(departments, pk=int(department))
            organisation = department.organisation
        else:
            organisation = organisation_param(request)
        period = period_param(request, organisation)
        entries = ScoreEntry.objects.filter(period=appraisal.month_start(period))
        if department is not None:
            entries = entries.filter(department=department)
        else:
            entries = entries.filter(department__organisation=organisation)
        entries = entries.select_related("department", "event").order_by("department", "pk")
        page = self.paginate_queryset(entries)
        visible = set(
            access.case_list_visible(request.user)
            .filter(pk__in={e.case_id for e in page})
            .values_list("pk", flat=True)
        )
        data = ScoreEntrySerializer(page, many=True, context={"visible": visible}).data
        return self.get_paginated_response(data)


class _FileRenderer(BaseRenderer):
    """Lets a client ask for the file's own type; errors still come as JSON."""

    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data)


class _XlsxRenderer(_FileRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"


class _DocxRenderer(_FileRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    format = "docx"


_LEDGER_PARAMETERS = [
    ORGANISATION_PARAMETER,
    OpenApiParameter(
        "below",
        str,
        enum=["0", "1"],
        description=(
            "1: the federation and those below it, one row per measure with a case you may "
            f"see in each, {ledger.LEDGER_FEDERATIONS_PER_FILE} federations to a file"
        ),
    ),
    OpenApiParameter(
        "page",
        int,
        description=(
            "With below=1, which file of federations (from 1); the file says which it holds "
            "and how many pages there are"
        ),
    ),
]


class _LedgerView(GenericAPIView):
    """A federation's programme ledger (台账), as the pages export it (workflows.reports.ledger)."""

    fmt = ""
    render_file = None

    def get(self, request):
        organisation = organisation_param(request)
        below = request.query_params.get("below", "0")
        if below not in ("0", "1"):
            raise exceptions.ValidationError({"below": ["0 or 1."]})
        today = local_date(timezone.now())
        title = _("Reform programme ledger of %(federation)s, %(date)s") % {
            "federation": organisation.title,
            "date": today.isoformat(),
        }
        page = request.query_params.get("page")
        sheet = ledger.ledger_page(
            request.user, organisation=organisation, below=below == "1", page=page
        )
        content = type(self).render_file(sheet.rows, title=title, note=sheet.note)
        response = HttpResponse(content, content_type=self.renderer_classes[1].media_type)
        part = f"-p{page}" if sheet.note and page else ""
        name = (
            f"ledger-{organisation.code}{'-below' if below == '1' else ''}{part}-{today}.{self.fmt}"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


@extend_schema(tags=["ledger"])
class LedgerXlsxView(_LedgerView):
    fmt = "xlsx"
    render_file = staticmethod(ledger.ledger_xlsx)
    renderer_classes = [JSONRenderer, _XlsxRenderer]

    @extend_schema(
        operation_id="ledger_xlsx",
        parameters=_LEDGER_PARAMETERS,
        responses={
            (200, _XlsxRenderer.media_type): OpenApiTypes.BINARY,
            **error_responses(400, 404),
        },
    )
    @method_decorator(replica_view)
    def get(self, request):
        """The ledger as an Excel workbook."""
        return super().get(request)


@extend_schema(tags=["ledger"])
class LedgerDocxView(_LedgerView):
    fmt = "docx"
    render_file = staticmethod(ledger.ledger_docx)
    renderer_classes = [JSONRenderer, _DocxRenderer]

    @extend_schema(
        operation_id="ledger_docx",
        parameters=_LEDGER_PARAMETERS,
        responses={
            (200, _DocxRenderer.media_type): OpenApiTypes.BINARY,
            **error_responses(400, 404),
        },
    )
    @method_decorator(replica_view)
    def get(self, request):
        """The ledger as a Word document."""
        return super().get(request)
