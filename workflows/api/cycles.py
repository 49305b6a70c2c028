"""API views for feedback cycles (督查督办): the cycles a caller may see, one cycle with its
partner inputs, the lead department's consolidation and report, a partner's input.

The supervision layer's API (cycles, extensions, orders, appraisal, lights) is thin over the
same services and reach as the pages: anything on a case the caller cannot see is a 404
(partner departments see the cycles they contribute to); after that the service decides, so
a refused action is its 403 or 400, with its reason. Errors answer `{"detail": ...}` through
workflows.api.errors.exception_handler.
"""

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from workflows.api.errors import error_responses
from workflows.api.inputs import parse_input
from workflows.api.supervision_base import MAX_ID, SUPERVISION_ACTION_ERRORS, user_field
from workflows.common import reach as access
from workflows.common.db_router import replica_view
from workflows.models import (
    CycleStatus,
    FeedbackCycle,
    PartnerInput,
)
from workflows.supervision import cycles as supervision_cycles


class PartnerInputSerializer(serializers.ModelSerializer):
    department = serializers.CharField(source="department.key")
    author = user_field("author")

    class Meta:
        model = PartnerInput
        fields = ["id", "cycle", "department", "author", "text", "created_at"]


class FeedbackCycleSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    measure = serializers.CharField(source="case.measure.code")
    organisation = serializers.CharField(source="case.organisation.code")
    task = serializers.IntegerField(source="work_item_id")
    report = serializers.IntegerField(
        source="report_id", allow_null=True, help_text="The consolidated progress update's id"
    )
    report_percent = serializers.IntegerField(
        source="report.percent", allow_null=True, default=None
    )
    report_note = serializers.CharField(source="report.note", allow_null=True, default=None)
    included_inputs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    carried_from = serializers.IntegerField(source="carried_from_id", allow_null=True)

    class Meta:
        model = FeedbackCycle
        fields = [
            "id",
            "case",
            "measure",
            "organisation",
            "task",
            "cadence",
            "period_start",
            "period_end",
            "due_at",
            "status",
            "report",
            "report_percent",
            "report_note",
            "included_inputs",
            "carried_from",
            "submitted_at",
            "missed_at",
        ]


class PrefillSerializer(serializers.Serializer):
    percent = serializers.IntegerField()
    note = serializers.CharField(allow_blank=True)


class ConsolidationSerializer(serializers.Serializer):
    """What the lead department starts its consolidated report from."""

    cycle = serializers.IntegerField()
    prefill = PrefillSerializer(help_text="The case's last progress report")
    partners = serializers.ListField(
        child=serializers.CharField(), help_text="The measure's partner departments (keys)"
    )
    inputs = PartnerInputSerializer(many=True, help_text="The partners' inputs so far")
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Partner departments with no input yet"
    )


class CycleDetailSerializer(FeedbackCycleSerializer):
    inputs = PartnerInputSerializer(many=True)

    class Meta(FeedbackCycleSerializer.Meta):
        fields = [*FeedbackCycleSerializer.Meta.fields, "inputs"]


class PartnerInputInput(serializers.Serializer):
    text = serializers.CharField(max_length=20_000, help_text="Your department's input")


class CycleReportInput(serializers.Serializer):
    percent = serializers.IntegerField(min_value=0, max_value=100)
    note = serializers.CharField(max_length=20_000, help_text="The consolidated progress report")
    inputs = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        default=list,
        max_length=200,
        help_text="Ids of this cycle's partner inputs the report includes",
    )


def _cycles() -> QuerySet[FeedbackCycle]:
    return FeedbackCycle.objects.select_related(
        "case__measure", "case__organisation", "report"
    ).prefetch_related("included_inputs")


def _visible_cycle(request, cycle_id: int) -> FeedbackCycle:
    """A cycle of a visible case, or one the caller's department is a partner of; else 404."""
    if cycle_id > MAX_ID:
        raise Http404
    cycle = get_object_or_404(_cycles(), pk=cycle_id)
    if not access.can_view_cycle(request.user, cycle):
        raise Http404
    return cycle


def _cycle_answer(cycle: FeedbackCycle, code=status.HTTP_200_OK) -> Response:
    cycle = _cycles().prefetch_related(_inputs_prefetch()).get(pk=cycle.pk)
    return Response(CycleDetailSerializer(cycle).data, status=code)


def _inputs_prefetch() -> Prefetch:
    return Prefetch("inputs", PartnerInput.objects.select_related("department", "author"))


@extend_schema(tags=["feedback cycles"])
class CycleListView(GenericAPIView):
    serializer_class = FeedbackCycleSerializer

    @extend_schema(
        operation_id="cycle_list",
        parameters=[
            OpenApiParameter("case", {"type": "integer", "minimum": 1}, description="Case id"),
            OpenApiParameter("status", str, enum=CycleStatus.values),
        ],
        responses={200: FeedbackCycleSerializer(many=True), **error_responses(400)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """Feedback cycles you may see (your cases', and those your department is a partner
        of), newest period first."""
        cycles = _cycles().filter(pk__in=access.cycle_list_visible(request.user).values("pk"))
        case = request.query_params.get("case")
        if case is not None:
            if not case.isdigit() or not 0 < int(case) <= MAX_ID:
                raise exceptions.ValidationError({"case": ["A case id."]})
            cycles = cycles.filter(case=int(case))
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in CycleStatus.values:
                raise exceptions.ValidationError(
                    {"status": [f"One of {', '.join(CycleStatus.values)}."]}
                )
            cycles = cycles.filter(status=wanted)
        page = self.paginate_queryset(cycles.order_by("-period_start", "-pk"))
        return self.get_paginated_response(FeedbackCycleSerializer(page, many=True).data)


@extend_schema(tags=["feedback cycles"])
class CycleDetailView(GenericAPIView):
    serializer_class = CycleDetailSerializer

    @extend_schema(
        operation_id="cycle_get", responses={200: CycleDetailSerializer, **error_responses(404)}
    )
    def get(self, request, cycle_id):
        """One cycle with its partners' inputs and, once submitted, its report."""
        return _cycle_answer(_visible_cycle(request, cycle_id))


@extend_schema(tags=["feedback cycles"])
class CycleConsolidationView(GenericAPIView):
    serializer_class = ConsolidationSerializer

    @extend_schema(
        operation_id="cycle_consolidation",
        responses={200: ConsolidationSerializer, **error_responses(404)},
    )
    def get(self, request, cycle_id):
        """The consolidation draft: the last progress report to start from, the partners'
        inputs to include, and the partners still missing."""
        cycle = _visible_cycle(request, cycle_id)
        partners = list(access.case_partner_departments(cycle.case).order_by("key"))
        inputs = list(cycle.inputs.select_related("department", "author"))
        given = {i.department_id for i in inputs}
        body = {
            "cycle": cycle.pk,
            "prefill": supervision_cycles.feedback_prefill(cycle),
            "partners": [d.key for d in partners],
            "inputs": inputs,
            "missing": [d.key for d in partners if d.pk not in given],
        }
        return Response(ConsolidationSerializer(body).data)


@extend_schema(tags=["feedback cycles"])
class CycleInputView(GenericAPIView):
    serializer_class = PartnerInputSerializer

    @extend_schema(
        operation_id="cycle_partner_input",
        request=PartnerInputInput,
        responses={201: PartnerInputSerializer, **SUPERVISION_ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Input",
                value={"text": "Grassroots: 12 of 16 districts trained."},
                request_only=True,
            )
        ],
    )
    def post(self, request, cycle_id):
        """A partner department gives (or revises) its input for an open cycle."""
        cycle = _visible_cycle(request, cycle_id)
        data = parse_input(PartnerInputInput, request)
        row = supervision_cycles.partner_input_add(
            cycle=cycle, user=request.user, text=data["text"]
        )
        row = PartnerInput.objects.select_related("department", "author").get(pk=row.pk)
        return Response(PartnerInputSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["feedback cycles"])
class CycleReportView(GenericAPIView):
    serializer_class = CycleDetailSerializer

    @extend_schema(
        operation_id="cycle_report",
        request=CycleReportInput,
        responses={200: CycleDetailSerializer, **SUPERVISION_ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Consolidated report",
                value={"percent": 45, "note": "Training under way in 12 districts.", "inputs": [7]},
                request_only=True,
            )
        ],
    )
    def post(self, request, cycle_id):
        """The lead department's consolidated report for the cycle, naming the partner inputs
        it includes (the lead department's staff and head)."""
        cycle = _visible_cycle(request, cycle_id)
        data = parse_input(CycleReportInput, request)
        inputs = PartnerInput.objects.filter(pk__in=data["inputs"]).select_related("department")
        inputs = list(inputs)
        if len(inputs) != len(set(data["inputs"])) or any(i.cycle_id != cycle.pk for i in inputs):
            raise exceptions.ValidationError({"inputs": ["Only this cycle's partner inputs."]})
        cycle = supervision_cycles.feedback_submit(
            cycle=cycle,
            user=request.user,
            percent=data["percent"],
            note=data["note"],
            inputs=inputs,
        )
        return _cycle_answer(cycle)
