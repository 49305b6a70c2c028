"""My work in the JSON API: `GET /api/v1/me/work/`, the same list as the page."""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from workflows.api.errors import error_responses
from workflows.api.inputs import parse_input
from workflows.cases import worklist
from workflows.common import reach as access
from workflows.models import UrgeTarget
from workflows.supervision import urging

# At most this many items per answer; `?limit=` asks for fewer.
WORK_LIMIT = 100


class WorkEntrySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(worklist.KINDS), help_text="What kind of item")
    kind_label = serializers.CharField(help_text="The kind in the caller's language")
    id = serializers.IntegerField(source="pk", help_text="The task's, request's, order's… id")
    what = serializers.CharField(help_text="What to do, in the caller's language")
    case = serializers.IntegerField(source="case_id")
    measure_code = serializers.CharField()
    measure_title = serializers.CharField()
    organisation = serializers.CharField(help_text="The case's federation")
    due_at = serializers.DateTimeField(allow_null=True)
    days_left = serializers.IntegerField(
        allow_null=True, help_text="Working days to the due day; negative when overdue"
    )
    url = serializers.CharField(help_text="The page where it is done")


class WorkListSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Items waiting in all")
    next = serializers.CharField(allow_null=True, help_text="The next page's address, or null")
    previous = serializers.CharField(
        allow_null=True, help_text="The previous page's address, or null"
    )
    results = WorkEntrySerializer(many=True)


@extend_schema(tags=["me"])
class MyWorkView(GenericAPIView):
    serializer_class = WorkListSerializer
    pagination_class = None

    @extend_schema(
        operation_id="me_work",
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": WORK_LIMIT},
                description="At most this many items, most urgent first",
            ),
            OpenApiParameter(
                "offset",
                {"type": "integer", "minimum": 0},
                description="Skip this many of the most urgent items (the page's start)",
            ),
        ],
        responses={200: WorkListSerializer, **error_responses(400)},
        examples=[
            OpenApiExample(
                "A head's work",
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "kind": "extension",
                            "kind_label": "Extension request to decide",
                            "id": 7,
                            "what": "Extension request to decide",
                            "case": 12,
                            "measure_code": "1.1",
                            "measure_title": "Strengthen political guidance",
                            "organisation": "All-China Federation of Trade Unions",
                            "due_at": "2026-12-10T18:00:00+08:00",
                            "days_left": 4,
                            "url": "/workflows/cases/12/supervision/",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        """Everything waiting for you (tasks and 督办 items), most urgent first."""
        limit = _whole(request, "limit", WORK_LIMIT, 1, WORK_LIMIT)
        offset = _whole(request, "offset", 0, 0, 2**31)
        count = worklist.work_count(request.user)
        entries = worklist.work_list(request.user, limit=limit, offset=offset)
        data = {
            "count": count,
            "next": _page_url(request, limit, offset + limit) if offset + limit < count else None,
            "previous": _page_url(request, limit, max(offset - limit, 0)) if offset else None,
            "results": entries,
        }
        return Response(WorkListSerializer(data).data)


def _whole(request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high], else a 400 naming it."""
    raw = request.query_params.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise exceptions.ValidationError({name: [f"A number from {low} to {high}."]})
    return int(raw)


def _page_url(request, limit: int, offset: int) -> str:
    query = request.query_params.copy()
    query["limit"], query["offset"] = str(limit), str(offset)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


class UrgeInputSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=urging.NOTE_MAX, help_text="Optional note"
    )


class UrgeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    target = serializers.ChoiceField(choices=UrgeTarget.choices)
    target_id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    by = serializers.CharField(source="by.username")
    note = serializers.CharField()
    at = serializers.DateTimeField()


@extend_schema(tags=["urging"])
class UrgeView(GenericAPIView):
    serializer_class = UrgeInputSerializer

    @extend_schema(
        operation_id="urge",
        parameters=[
            OpenApiParameter("target", str, OpenApiParameter.PATH, enum=UrgeTarget.values),
            OpenApiParameter("item_id", int, OpenApiParameter.PATH),
        ],
        request=UrgeInputSerializer,
        responses={201: UrgeSerializer, **error_responses(400, 403, 404)},
        examples=[OpenApiExample("With a note", value={"note": "Please answer by Friday."})],
    )
    def post(self, request, target: str, item_id: int):
        """Urge (催办) the holders of an open task, extension request, order or instruction:
        coordinators and the supervising leader, once per item per working day."""
        if target not in UrgeTarget.values:
            raise exceptions.NotFound()
        try:
            item = urging.item_get(target=target, pk=item_id)
        except ObjectDoesNotExist as exc:
            raise exceptions.NotFound() from exc
        if not access.can_view_case(request.user, item.case):
            raise exceptions.NotFound()
        data = parse_input(UrgeInputSerializer, request)
        try:
            urge = urging.item_urge(
                user=request.user, target=target, item=item, note=data.get("note", "")
            )
        except urging.UrgeRefused as exc:
            raise exceptions.ValidationError({"detail": exc.messages}) from exc
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        return Response(UrgeSerializer(urge).data, status=201)
