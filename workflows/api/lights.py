"""API view for a case's lights: both axes, each open task's, and the change history."""

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from workflows.api.errors import error_responses
from workflows.api.supervision_base import visible_case
from workflows.models import (
    Light,
    LightChange,
    WorkItemStatus,
)
from workflows.supervision import lights


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
        responses={200: CaseLightsSerializer, **error_responses(404)},
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
        case = visible_case(request, case_id)
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
