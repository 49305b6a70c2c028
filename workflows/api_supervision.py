"""The supervision layer (督查督办) in the JSON API: feedback cycles and partner inputs, extension
requests, supervision orders and their step-up history, leader instructions, the appraisal,
the ledger and the traffic lights.

Thin views over the same services and reach as the pages (views_supervision.py): anything on a
case the caller cannot see is a 404 (partner departments see the cycles they contribute to);
after that the service decides, so a refused action is its 403 or 400, with its reason.
Errors answer `{"detail": ...}` through workflows.api.exception_handler.
"""

import datetime as dt
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from . import access, appraisal, bounds, ledger, lights, selectors, supervision
from .api import _errors, _input
from .calendar import local_date
from .db_router import replica_view
from .models import (
    Case,
    CycleStatus,
    Department,
    ExtensionDecision,
    ExtensionRequest,
    FeedbackCycle,
    LeaderInstruction,
    Light,
    LightChange,
    OrderColour,
    PartnerInput,
    ScoreEntry,
    SupervisionOrder,
    WorkItemStatus,
)

# --------------------------------------------------------------------------- helpers

_MAX_ID = 2**63 - 1
_ACTION_ERRORS = _errors(400, 403, 404)


def _visible_case(request, case_id: int) -> Case:
    """The case if the caller may see it (the one rule of reach), else 404."""
    if case_id > _MAX_ID:
        raise Http404
    return selectors.case_get_visible(request.user, case_id)


def _on_visible_cases(queryset: QuerySet, request, pk: int, *related: str):
    """A row of a case the caller may see, else 404."""
    if pk > _MAX_ID:
        raise Http404
    rows = queryset.filter(case__in=access.case_list_visible(request.user))
    return get_object_or_404(rows.select_related(*related), pk=pk)


def _code(request, name: str) -> str:
    """A code given as a query parameter: printable text of at most 60 characters."""
    value = request.query_params.get(name, "")
    if len(value) > 60 or bounds.clean_text(value) != value:
        raise exceptions.ValidationError({name: ["At most 60 printable characters."]})
    return value


def _organisation(request):
    """?organisation=<code> within the caller's reach, else the caller's own (national if
    none); a code out of reach (or unknown) is a 404, as on the pages."""
    return selectors.organisation_get_visible(request.user, _code(request, "organisation"))


_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def _period(request, organisation) -> dt.date:
    """?period=YYYY-MM within the date horizon; without one, the federation's latest scored
    month, else last month. A bad value is a 400 naming `period`."""
    text = request.query_params.get("period")
    if text is None:
        latest = appraisal.latest_period(organisation)
        if latest:
            return latest
        today = local_date(timezone.now())
        return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    match = _PERIOD.match(text)
    try:
        period = dt.date(int(match[1]), int(match[2]), 1) if match else None
    except ValueError:
        period = None
    if period is None:
        raise exceptions.ValidationError({"period": [_("Give a month as YYYY-MM.")]})
    try:
        bounds.validate_date_in_horizon(period)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({"period": exc.messages}) from None
    return period


def _user(field: str, **kwargs):
    return serializers.CharField(
        source=f"{field}.username", allow_null=True, default=None, **kwargs
    )


_ORGANISATION_PARAMETER = OpenApiParameter(
    "organisation",
    str,
    description="A federation's code within your reach (default: your own); out of reach: 404",
    examples=[OpenApiExample("Beijing", value="beijing")],
)
_PERIOD_PARAMETER = OpenApiParameter(
    "period",
    {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
    description="The month, YYYY-MM, within the date horizon (default: the latest scored month)",
    examples=[OpenApiExample("March 2027", value="2027-03")],
)


# --------------------------------------------------------------------------- feedback cycles


class PartnerInputSerializer(serializers.ModelSerializer):
    department = serializers.CharField(source="department.key")
    author = _user("author")

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
        child=serializers.IntegerField(min_value=1, max_value=_MAX_ID),
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
    if cycle_id > _MAX_ID:
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
        responses={200: FeedbackCycleSerializer(many=True), **_errors(400)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """Feedback cycles you may see (your cases', and those your department is a partner
        of), newest period first."""
        cycles = _cycles().filter(pk__in=access.cycle_list_visible(request.user).values("pk"))
        case = request.query_params.get("case")
        if case is not None:
            if not case.isdigit() or not 0 < int(case) <= _MAX_ID:
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

    @extend_schema(operation_id="cycle_get", responses={200: CycleDetailSerializer, **_errors(404)})
    def get(self, request, cycle_id):
        """One cycle with its partners' inputs and, once submitted, its report."""
        return _cycle_answer(_visible_cycle(request, cycle_id))


@extend_schema(tags=["feedback cycles"])
class CycleConsolidationView(GenericAPIView):
    serializer_class = ConsolidationSerializer

    @extend_schema(
        operation_id="cycle_consolidation",
        responses={200: ConsolidationSerializer, **_errors(404)},
    )
    def get(self, request, cycle_id):
        """The consolidation draft: the last progress report to start from, the partners'
        inputs to include, and the partners still missing."""
        cycle = _visible_cycle(request, cycle_id)
        partners = list(supervision.partner_departments(cycle.case).order_by("key"))
        inputs = list(cycle.inputs.select_related("department", "author"))
        given = {i.department_id for i in inputs}
        body = {
            "cycle": cycle.pk,
            "prefill": supervision.feedback_prefill(cycle),
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
        responses={201: PartnerInputSerializer, **_ACTION_ERRORS},
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
        data = _input(PartnerInputInput, request)
        row = supervision.partner_input_add(cycle=cycle, user=request.user, text=data["text"])
        row = PartnerInput.objects.select_related("department", "author").get(pk=row.pk)
        return Response(PartnerInputSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["feedback cycles"])
class CycleReportView(GenericAPIView):
    serializer_class = CycleDetailSerializer

    @extend_schema(
        operation_id="cycle_report",
        request=CycleReportInput,
        responses={200: CycleDetailSerializer, **_ACTION_ERRORS},
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
        data = _input(CycleReportInput, request)
        inputs = PartnerInput.objects.filter(pk__in=data["inputs"]).select_related("department")
        inputs = list(inputs)
        if len(inputs) != len(set(data["inputs"])) or any(i.cycle_id != cycle.pk for i in inputs):
            raise exceptions.ValidationError({"inputs": ["Only this cycle's partner inputs."]})
        cycle = supervision.feedback_submit(
            cycle=cycle,
            user=request.user,
            percent=data["percent"],
            note=data["note"],
            inputs=inputs,
        )
        return _cycle_answer(cycle)


# --------------------------------------------------------------------------- extension requests


class ExtensionDecisionSerializer(serializers.ModelSerializer):
    by = _user("by")

    class Meta:
        model = ExtensionDecision
        fields = ["stage", "by", "approved", "date", "note", "at"]


class ExtensionRequestSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    task = serializers.IntegerField(source="work_item_id")
    step = serializers.CharField(source="work_item.step.key")
    requested_by = _user("requested_by")
    decisions = ExtensionDecisionSerializer(many=True)

    class Meta:
        model = ExtensionRequest
        fields = [
            "id",
            "case",
            "task",
            "step",
            "requested_by",
            "reason",
            "requested_date",
            "progress_percent",
            "due_at_when_requested",
            "status",
            "approved_date",
            "created_at",
            "decided_at",
            "decisions",
        ]


class ExtensionRequestInput(serializers.Serializer):
    new_date = serializers.DateField(
        help_text="The due date asked for, later than the current one, within the date horizon",
        validators=[bounds.validate_date_in_horizon],
    )
    percent = serializers.IntegerField(min_value=0, max_value=100, help_text="Current progress")
    reason = serializers.CharField(max_length=20_000)


class ExtensionDecisionInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "refuse"])
    date = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The due date approved (default: the date asked for, or the head's)",
        validators=[bounds.validate_date_in_horizon],
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=20_000,
        help_text="Required to refuse",
    )


def _requests() -> QuerySet[ExtensionRequest]:
    rows = ExtensionRequest.objects.select_related("requested_by", "work_item__step")
    return rows.prefetch_related(
        Prefetch("decisions", ExtensionDecision.objects.select_related("by"))
    )


def _request_answer(request_row: ExtensionRequest, code=status.HTTP_200_OK) -> Response:
    row = _requests().get(pk=request_row.pk)
    return Response(ExtensionRequestSerializer(row).data, status=code)


@extend_schema(tags=["extension requests"])
class CaseExtensionRequestsView(GenericAPIView):
    serializer_class = ExtensionRequestSerializer
    pagination_class = None

    @extend_schema(
        operation_id="extension_request_list",
        responses={200: ExtensionRequestSerializer(many=True), **_errors(404)},
    )
    def get(self, request, case_id):
        """The case's extension requests, oldest first, each with its decisions."""
        case = _visible_case(request, case_id)
        rows = _requests().filter(case=case)
        return Response(ExtensionRequestSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="extension_request_create",
        request=ExtensionRequestInput,
        responses={201: ExtensionRequestSerializer, **_ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Request",
                value={"new_date": "2027-04-30", "percent": 40, "reason": "Waiting on partners."},
                request_only=True,
            )
        ],
    )
    def post(self, request, case_id):
        """Ask for a later due date of the case's open task, before it is due (the responsible
        department's staff and head)."""
        case = _visible_case(request, case_id)
        data = _input(ExtensionRequestInput, request)
        item = case.work_items.filter(status=WorkItemStatus.OPEN).order_by("created_at").first()
        if item is None:
            raise exceptions.ValidationError(_("The case has no open task."))
        row = supervision.extension_request(
            item=item,
            user=request.user,
            reason=data["reason"],
            new_date=data["new_date"],
            percent=data["percent"],
        )
        return _request_answer(row, status.HTTP_201_CREATED)


@extend_schema(tags=["extension requests"])
class ExtensionDecideView(GenericAPIView):
    serializer_class = ExtensionRequestSerializer

    @extend_schema(
        operation_id="extension_request_decide",
        request=ExtensionDecisionInput,
        responses={200: ExtensionRequestSerializer, **_ACTION_ERRORS},
        examples=[
            OpenApiExample("Approve", value={"decision": "approve"}, request_only=True),
            OpenApiExample(
                "Refuse",
                value={"decision": "refuse", "note": "Finish the training first."},
                request_only=True,
            ),
        ],
    )
    def post(self, request, request_id):
        """The lead department's head, then the supervising leader, approve or refuse; nobody
        decides on their own request (separation of duties)."""
        row = _on_visible_cases(ExtensionRequest.objects, request, request_id)
        data = _input(ExtensionDecisionInput, request)
        row = supervision.extension_decide(
            request=row,
            user=request.user,
            approve=data["decision"] == "approve",
            date=data["date"],
            note=data["note"],
        )
        return _request_answer(row)


@extend_schema(tags=["extension requests"])
class ExtensionWithdrawView(GenericAPIView):
    serializer_class = ExtensionRequestSerializer

    @extend_schema(
        operation_id="extension_request_withdraw",
        request=None,
        responses={200: ExtensionRequestSerializer, **_ACTION_ERRORS},
    )
    def post(self, request, request_id):
        """The person who asked withdraws a request nobody has finished deciding."""
        row = _on_visible_cases(ExtensionRequest.objects, request, request_id)
        return _request_answer(supervision.extension_withdraw(request=row, user=request.user))


# --------------------------------------------------------------------------- supervision orders


class SummonsSerializer(serializers.Serializer):
    department_head = _user("department_head")
    requested_at = serializers.DateTimeField()
    held_on = serializers.DateField(allow_null=True)
    outcome = serializers.CharField(allow_blank=True)


class OrderSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    department = serializers.CharField(source="department.key")
    issued_by = _user("issued_by", help_text="Null when the escalation ladder issued it")
    escalation_rung = serializers.IntegerField(
        source="escalation.rung", allow_null=True, default=None
    )
    stepped_from = serializers.IntegerField(source="stepped_from_id", allow_null=True)
    stepped_to = serializers.SerializerMethodField(help_text="The order that replaced this one")
    responded_by = _user("responded_by")
    summons = serializers.SerializerMethodField(help_text="A red order's summons meeting")

    class Meta:
        model = SupervisionOrder
        fields = [
            "id",
            "case",
            "department",
            "colour",
            "status",
            "reason",
            "issued_by",
            "issued_at",
            "escalation_rung",
            "stepped_from",
            "stepped_to",
            "response_working_days",
            "response_due_at",
            "response",
            "responded_by",
            "responded_at",
            "summons",
        ]

    def get_stepped_to(self, order) -> int | None:
        replaced_by = getattr(order, "stepped_to", None)
        return replaced_by.pk if replaced_by else None

    @extend_schema_field(SummonsSerializer(allow_null=True))
    def get_summons(self, order):
        meeting = getattr(order, "summons", None)
        return SummonsSerializer(meeting).data if meeting else None


class OrderHistorySerializer(serializers.Serializer):
    order = serializers.IntegerField(help_text="The order asked about")
    chain = OrderSerializer(
        many=True, help_text="Its step-up chain, first order first (blue → orange → red)"
    )


class OrderIssueInput(serializers.Serializer):
    colour = serializers.ChoiceField(choices=OrderColour.choices, default=OrderColour.BLUE)
    reason = serializers.CharField(max_length=20_000, help_text="Why the case is lagging")


class TextInput(serializers.Serializer):
    text = serializers.CharField(max_length=20_000)


def _orders() -> QuerySet[SupervisionOrder]:
    return SupervisionOrder.objects.select_related(
        "department",
        "issued_by",
        "responded_by",
        "escalation",
        "stepped_to",
        "summons__department_head",
    )


@extend_schema(tags=["supervision orders"])
class CaseOrdersView(GenericAPIView):
    serializer_class = OrderSerializer
    pagination_class = None

    @extend_schema(
        operation_id="order_list",
        responses={200: OrderSerializer(many=True), **_errors(404)},
    )
    def get(self, request, case_id):
        """The case's supervision orders (督办单), oldest first, each naming the order it
        stepped up from and the one that replaced it."""
        case = _visible_case(request, case_id)
        return Response(OrderSerializer(_orders().filter(case=case), many=True).data)

    @extend_schema(
        operation_id="order_issue",
        request=OrderIssueInput,
        responses={201: OrderSerializer, **_ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Blue order",
                value={"colour": "blue", "reason": "Two cycles without a report."},
                request_only=True,
            )
        ],
    )
    def post(self, request, case_id):
        """Issue an order on a lagging case (coordinators of its federation or above)."""
        case = _visible_case(request, case_id)
        data = _input(OrderIssueInput, request)
        order = supervision.order_issue(
            case=case, by=request.user, colour=data["colour"], reason=data["reason"]
        )
        return Response(OrderSerializer(_orders().get(pk=order.pk)).data, status=201)


@extend_schema(tags=["supervision orders"])
class OrderAnswerView(GenericAPIView):
    serializer_class = OrderSerializer

    @extend_schema(
        operation_id="order_answer",
        request=TextInput,
        responses={200: OrderSerializer, **_ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Answer",
                value={"text": "Training resumed; the report follows on Friday."},
                request_only=True,
            )
        ],
    )
    def post(self, request, order_id):
        """The lead department answers an open order (its staff and head)."""
        order = _on_visible_cases(SupervisionOrder.objects, request, order_id, "case")
        data = _input(TextInput, request)
        order = supervision.order_respond(order=order, user=request.user, text=data["text"])
        return Response(OrderSerializer(_orders().get(pk=order.pk)).data)


@extend_schema(tags=["supervision orders"])
class OrderHistoryView(GenericAPIView):
    serializer_class = OrderHistorySerializer

    @extend_schema(
        operation_id="order_history",
        responses={200: OrderHistorySerializer, **_errors(404)},
    )
    def get(self, request, order_id):
        """The order's step-up history: every order of its chain, from the first to the one
        standing now."""
        order = _on_visible_cases(SupervisionOrder.objects, request, order_id)
        orders = {o.pk: o for o in _orders().filter(case=order.case_id)}
        first = orders[order.pk]
        while first.stepped_from_id in orders:
            first = orders[first.stepped_from_id]
        chain = [first]
        # stepped_from is unique, so the chain is a line; bounded by the case's orders.
        while (nxt := getattr(chain[-1], "stepped_to", None)) and len(chain) < len(orders):
            chain.append(orders[nxt.pk])
        return Response(OrderHistorySerializer({"order": order.pk, "chain": chain}).data)


# --------------------------------------------------------------------------- leader instructions


class InstructionSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    leader = _user("leader")
    replied_by = _user("replied_by")
    late = serializers.SerializerMethodField(help_text="Replied after, or still open past, its due")

    class Meta:
        model = LeaderInstruction
        fields = [
            "id",
            "case",
            "leader",
            "text",
            "due_at",
            "created_at",
            "reply",
            "replied_by",
            "replied_at",
            "late",
        ]

    def get_late(self, instruction) -> bool:
        return (instruction.replied_at or timezone.now()) > instruction.due_at


class InstructionInput(serializers.Serializer):
    text = serializers.CharField(max_length=20_000)
    due_date = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Reply due by (default: 10 working days from today), within the date horizon",
        validators=[bounds.validate_date_in_horizon],
    )


def _instructions() -> QuerySet[LeaderInstruction]:
    return LeaderInstruction.objects.select_related("leader", "replied_by")


@extend_schema(tags=["leader instructions"])
class CaseInstructionsView(GenericAPIView):
    serializer_class = InstructionSerializer
    pagination_class = None

    @extend_schema(
        operation_id="instruction_list",
        responses={200: InstructionSerializer(many=True), **_errors(404)},
    )
    def get(self, request, case_id):
        """The leaders' instructions (批示) on the case, oldest first, with their replies."""
        case = _visible_case(request, case_id)
        return Response(InstructionSerializer(_instructions().filter(case=case), many=True).data)

    @extend_schema(
        operation_id="instruction_write",
        request=InstructionInput,
        responses={201: InstructionSerializer, **_ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Instruction",
                value={"text": "Report the districts' figures by Friday.", "due_date": None},
                request_only=True,
            )
        ],
    )
    def post(self, request, case_id):
        """A leader writes an instruction on the case; it is tracked to its reply."""
        case = _visible_case(request, case_id)
        data = _input(InstructionInput, request)
        instruction = supervision.instruction_issue(
            case=case, leader=request.user, text=data["text"], due_date=data["due_date"]
        )
        return Response(
            InstructionSerializer(_instructions().get(pk=instruction.pk)).data, status=201
        )


@extend_schema(tags=["leader instructions"])
class InstructionReplyView(GenericAPIView):
    serializer_class = InstructionSerializer

    @extend_schema(
        operation_id="instruction_reply",
        request=TextInput,
        responses={200: InstructionSerializer, **_ACTION_ERRORS},
        examples=[OpenApiExample("Reply", value={"text": "Figures attached."}, request_only=True)],
    )
    def post(self, request, instruction_id):
        """The lead department replies to the instruction (its staff and head)."""
        instruction = _on_visible_cases(LeaderInstruction.objects, request, instruction_id, "case")
        data = _input(TextInput, request)
        instruction = supervision.instruction_reply(
            instruction=instruction, user=request.user, text=data["text"]
        )
        return Response(InstructionSerializer(_instructions().get(pk=instruction.pk)).data)


# --------------------------------------------------------------------------- appraisal


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
    hash = serializers.CharField(help_text="The event's place in the hash chain")


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
        parameters=[_ORGANISATION_PARAMETER, _PERIOD_PARAMETER],
        responses={200: AppraisalSerializer, **_errors(400, 404)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """A federation's month: its departments ranked among themselves, best first."""
        organisation = _organisation(request)
        period = _period(request, organisation)
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
            _ORGANISATION_PARAMETER,
            _PERIOD_PARAMETER,
            OpenApiParameter(
                "department",
                {"type": "integer", "minimum": 1},
                description="Only this department's entries (its id; within your reach)",
            ),
        ],
        responses={200: ScoreEntrySerializer(many=True), **_errors(400, 404)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """The month's score entries of a federation's departments, each linked to the audit
        event behind it; case, task and note only for cases you may see."""
        department = request.query_params.get("department")
        if department is not None:
            if not department.isdigit() or not 0 < int(department) <= _MAX_ID:
                raise exceptions.ValidationError({"department": ["A department id."]})
            departments = Department.objects.filter(
                organisation__in=selectors.organisation_list_visible(request.user)
            ).select_related("organisation")
            department = get_object_or_404(departments, pk=int(department))
            organisation = department.organisation
        else:
            organisation = _organisation(request)
        period = _period(request, organisation)
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


# --------------------------------------------------------------------------- the ledger


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
    _ORGANISATION_PARAMETER,
    OpenApiParameter(
        "below",
        str,
        enum=["0", "1"],
        description="1: every case you may see in the federation and below, one row per case",
    ),
]


class _LedgerView(GenericAPIView):
    """A federation's programme ledger (台账), as the pages export it (workflows.ledger)."""

    fmt = ""
    render_file = None

    def get(self, request):
        organisation = _organisation(request)
        below = request.query_params.get("below", "0")
        if below not in ("0", "1"):
            raise exceptions.ValidationError({"below": ["0 or 1."]})
        today = local_date(timezone.now())
        title = _("Reform programme ledger of %(federation)s, %(date)s") % {
            "federation": organisation.title,
            "date": today.isoformat(),
        }
        rows = ledger.ledger_rows(request.user, organisation=organisation, below=below == "1")
        content = type(self).render_file(rows, title=title)
        response = HttpResponse(content, content_type=self.renderer_classes[1].media_type)
        name = f"ledger-{organisation.code}{'-below' if below == '1' else ''}-{today}.{self.fmt}"
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
        responses={(200, _XlsxRenderer.media_type): OpenApiTypes.BINARY, **_errors(400, 404)},
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
        responses={(200, _DocxRenderer.media_type): OpenApiTypes.BINARY, **_errors(400, 404)},
    )
    @method_decorator(replica_view)
    def get(self, request):
        """The ledger as a Word document."""
        return super().get(request)


# --------------------------------------------------------------------------- lights


class LightChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = LightChange
        fields = ["axis", "from_light", "to_light", "at"]


class TaskLightsSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    deadline = serializers.ChoiceField(choices=Light.choices)
    progress = serializers.ChoiceField(
        choices=Light.choices, allow_null=True, help_text="Implementation steps only"
    )


class CaseLightsSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    deadline = serializers.ChoiceField(choices=Light.choices)
    progress = serializers.ChoiceField(choices=Light.choices)
    working_days_left = serializers.IntegerField(allow_null=True, help_text="Negative: overdue")
    expected_percent = serializers.IntegerField()
    actual_percent = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    open_task = TaskLightsSerializer(allow_null=True)
    history = LightChangeSerializer(many=True, help_text="Every change, oldest first")


@extend_schema(tags=["lights"])
class CaseLightsView(GenericAPIView):
    serializer_class = CaseLightsSerializer

    @extend_schema(
        operation_id="case_lights",
        responses={200: CaseLightsSerializer, **_errors(404)},
        examples=[
            OpenApiExample(
                "Lagging",
                value={
                    "case": 12,
                    "deadline": "red",
                    "progress": "yellow",
                    "working_days_left": -3,
                    "expected_percent": 40,
                    "actual_percent": 25,
                    "computed_at": "2027-04-08T02:00:00Z",
                    "open_task": {"task": 80, "deadline": "red", "progress": "yellow"},
                    "history": [
                        {
                            "axis": "deadline",
                            "from_light": "green",
                            "to_light": "yellow",
                            "at": "2027-03-17T02:00:00Z",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request, case_id):
        """The case's traffic lights on both axes (deadline, progress against time), its open
        task's, and every change of light so far (a lapse stays visible)."""
        case = _visible_case(request, case_id)
        light = getattr(case, "light", None)
        item = (
            case.work_items.filter(status=WorkItemStatus.OPEN)
            .select_related("step")
            .order_by("created_at")
            .first()
        )
        task = None
        if item is not None:
            found = lights.task_lights(item)
            task = {"task": item.pk, "deadline": found.deadline, "progress": found.progress}
        body = {
            "case": case.pk,
            "deadline": light.deadline if light else "green",
            "progress": light.progress if light else "green",
            "working_days_left": light.working_days_left if light else None,
            "expected_percent": light.expected_percent if light else 0,
            "actual_percent": light.actual_percent if light else case.percent_complete,
            "computed_at": light.computed_at if light else None,
            "open_task": task,
            "history": lights.light_history(case),
        }
        return Response(CaseLightsSerializer(body).data)
