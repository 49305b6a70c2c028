"""API views for supervision orders: a case's orders, issuing, answering, and an order's
step-up history; and leader instructions with their replies.
"""

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from workflows.api.errors import error_responses
from workflows.api.inputs import parse_input
from workflows.api.supervision_base import (
    SUPERVISION_ACTION_ERRORS,
    on_visible_cases,
    user_field,
    visible_case,
)
from workflows.common import bounds
from workflows.models import (
    LeaderInstruction,
    OrderColour,
    SupervisionOrder,
)
from workflows.supervision import instructions as supervision_instructions
from workflows.supervision import orders as supervision_orders


class SummonsSerializer(serializers.Serializer):
    department_head = user_field("department_head")
    requested_at = serializers.DateTimeField()
    held_on = serializers.DateField(allow_null=True)
    outcome = serializers.CharField(allow_blank=True)


class OrderSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    department = serializers.CharField(source="department.key")
    issued_by = user_field("issued_by", help_text="Null when the escalation ladder issued it")
    escalation_rung = serializers.IntegerField(
        source="escalation.rung", allow_null=True, default=None
    )
    stepped_from = serializers.IntegerField(source="stepped_from_id", allow_null=True)
    stepped_to = serializers.SerializerMethodField(help_text="The order that replaced this one")
    responded_by = user_field("responded_by")
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
        responses={200: OrderSerializer(many=True), **error_responses(404)},
    )
    def get(self, request, case_id):
        """The case's supervision orders (督办单), oldest first, each naming the order it
        stepped up from and the one that replaced it."""
        case = visible_case(request, case_id)
        return Response(OrderSerializer(_orders().filter(case=case), many=True).data)

    @extend_schema(
        operation_id="order_issue",
        request=OrderIssueInput,
        responses={201: OrderSerializer, **SUPERVISION_ACTION_ERRORS},
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
        case = visible_case(request, case_id)
        data = parse_input(OrderIssueInput, request)
        order = supervision_orders.order_issue(
            case=case, by=request.user, colour=data["colour"], reason=data["reason"]
        )
        return Response(OrderSerializer(_orders().get(pk=order.pk)).data, status=201)


@extend_schema(tags=["supervision orders"])
class OrderAnswerView(GenericAPIView):
    serializer_class = OrderSerializer

    @extend_schema(
        operation_id="order_answer",
        request=TextInput,
        responses={200: OrderSerializer, **SUPERVISION_ACTION_ERRORS},
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
        order = on_visible_cases(SupervisionOrder.objects, request, order_id, "case")
        data = parse_input(TextInput, request)
        order = supervision_orders.order_respond(order=order, user=request.user, text=data["text"])
        return Response(OrderSerializer(_orders().get(pk=order.pk)).data)


@extend_schema(tags=["supervision orders"])
class OrderHistoryView(GenericAPIView):
    serializer_class = OrderHistorySerializer

    @extend_schema(
        operation_id="order_history",
        responses={200: OrderHistorySerializer, **error_responses(404)},
    )
    def get(self, request, order_id):
        """The order's step-up history: every order of its chain, from the first to the one
        standing now."""
        order = on_visible_cases(SupervisionOrder.objects, request, order_id)
        orders = {o.pk: o for o in _orders().filter(case=order.case_id)}
        first = orders[order.pk]
        while first.stepped_from_id in orders:
            first = orders[first.stepped_from_id]
        chain = [first]
        # stepped_from is unique, so the chain is a line; bounded by the case's orders.
        while (nxt := getattr(chain[-1], "stepped_to", None)) and len(chain) < len(orders):
            chain.append(orders[nxt.pk])
        return Response(OrderHistorySerializer({"order": order.pk, "chain": chain}).data)


class InstructionSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    leader = user_field("leader")
    replied_by = user_field("replied_by")
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
        responses={200: InstructionSerializer(many=True), **error_responses(404)},
    )
    def get(self, request, case_id):
        """The leaders' instructions (批示) on the case, oldest first, with their replies."""
        case = visible_case(request, case_id)
        return Response(InstructionSerializer(_instructions().filter(case=case), many=True).data)

    @extend_schema(
        operation_id="instruction_write",
        request=InstructionInput,
        responses={201: InstructionSerializer, **SUPERVISION_ACTION_ERRORS},
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
        case = visible_case(request, case_id)
        data = parse_input(InstructionInput, request)
        instruction = supervision_instructions.instruction_issue(
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
        responses={200: InstructionSerializer, **SUPERVISION_ACTION_ERRORS},
        examples=[OpenApiExample("Reply", value={"text": "Figures attached."}, request_only=True)],
    )
    def post(self, request, instruction_id):
        """The lead department replies to the instruction (its staff and head)."""
        instruction = on_visible_cases(LeaderInstruction.objects, request, instruction_id, "case")
        data = parse_input(TextInput, request)
        instruction = supervision_instructions.instruction_reply(
            instruction=instruction, user=request.user, text=data["text"]
        )
        return Response(InstructionSerializer(_instructions().get(pk=instruction.pk)).data)
