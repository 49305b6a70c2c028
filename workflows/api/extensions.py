"""API views for extension requests: a case's requests, asking, deciding and withdrawing."""

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
)
from rest_framework import exceptions, serializers, status
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
    ExtensionDecision,
    ExtensionRequest,
)
from workflows.supervision import extensions
from workflows.supervision.base import case_open_item


class ExtensionDecisionSerializer(serializers.ModelSerializer):
    by = user_field("by")

    class Meta:
        model = ExtensionDecision
        fields = ["stage", "by", "approved", "date", "note", "at"]


class ExtensionRequestSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    task = serializers.IntegerField(source="work_item_id")
    step = serializers.CharField(source="work_item.step.key")
    requested_by = user_field("requested_by")
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
        responses={200: ExtensionRequestSerializer(many=True), **error_responses(404)},
    )
    def get(self, request, case_id):
        """The case's extension requests, oldest first, each with its decisions."""
        case = visible_case(request, case_id)
        rows = _requests().filter(case=case)
        return Response(ExtensionRequestSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="extension_request_create",
        request=ExtensionRequestInput,
        responses={201: ExtensionRequestSerializer, **SUPERVISION_ACTION_ERRORS},
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
        case = visible_case(request, case_id)
        data = parse_input(ExtensionRequestInput, request)
        item = case_open_item(case)
        if item is None:
            raise exceptions.ValidationError(_("The case has no open task."))
        row = extensions.extension_request(
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
        responses={200: ExtensionRequestSerializer, **SUPERVISION_ACTION_ERRORS},
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
        row = on_visible_cases(ExtensionRequest.objects, request, request_id)
        data = parse_input(ExtensionDecisionInput, request)
        row = extensions.extension_decide(
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
        responses={200: ExtensionRequestSerializer, **SUPERVISION_ACTION_ERRORS},
    )
    def post(self, request, request_id):
        """The person who asked withdraws a request nobody has finished deciding."""
        row = on_visible_cases(ExtensionRequest.objects, request, request_id)
        return _request_answer(extensions.extension_withdraw(request=row, user=request.user))
