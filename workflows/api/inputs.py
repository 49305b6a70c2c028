"""What API clients send: one input serializer per action (parsed here, decided by the
services), and the query parameters every list shares (scope, page, dates).
"""

from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import (
    OpenApiParameter,
)
from rest_framework import serializers

from workflows.api.errors import BadRequest
from workflows.api.serializers import CaseSerializer, CodeField
from workflows.common import bounds
from workflows.models import (
    Aspect,
    Measure,
    Organisation,
    OrganisationLevel,
    ReportKind,
)


class CascadeInput(serializers.Serializer):
    organisations = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Codes of organisations directly below the case's",
    )
    level = serializers.CharField(
        required=False, help_text="Or a level key: every organisation directly below at it"
    )


class CascadeResultSerializer(serializers.Serializer):
    created = CaseSerializer(many=True)
    existing = CaseSerializer(many=True)


class OverrideInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class LaunchInput(serializers.Serializer):
    measure = CodeField(slug_field="code", queryset=Measure.objects.all())


class ApproveInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ReturnInput(serializers.Serializer):
    # Optional here so that a missing reason gets the service's own message (ReasonRequired).
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CompleteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")
    percent = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=100
    )


class ProgressInput(serializers.Serializer):
    percent = serializers.IntegerField(help_text="0 to 100", min_value=0, max_value=100)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ExtendInput(serializers.Serializer):
    new_date = serializers.DateField(
        help_text="The new due day (due at 18:00 Asia/Shanghai), within the date horizon",
        validators=[bounds.validate_date_in_horizon],
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PauseInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ReassignInput(serializers.Serializer):
    to = serializers.CharField(allow_null=True, help_text="Username, or null to put back in queue")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


def parse_input(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


SCOPE_PARAMETERS = [
    OpenApiParameter("organisation", str, description="Only this organisation (its code)"),
    OpenApiParameter("level", str, description="Only organisations at this level (its key)"),
]


def scope_filters(request) -> tuple[Organisation | None, str | None]:
    """?organisation=<code> and ?level=<key>; an unknown code or key is a 400."""
    organisation = level = None
    code = request.query_params.get("organisation")
    if code:
        organisation = Organisation.objects.filter(code=code).first()
        if organisation is None:
            raise BadRequest(f"organisation: there is no organisation '{code}'")
    level = request.query_params.get("level") or None
    if level and not OrganisationLevel.objects.filter(key=level).exists():
        raise BadRequest(f"level: there is no organisation level '{level}'")
    return organisation, level


def page_number(request) -> int:
    """?page=<n>, a positive whole number (1 when absent); anything else is a 400."""
    raw = request.query_params.get("page")
    if raw is None:
        return 1
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise BadRequest(f"page: '{raw}' is not a page number (1, 2, …)")
    return int(raw)


def filter_scope(queryset, organisation, level, *, prefix: str = ""):
    """`queryset` narrowed to the scope_filters' organisation and level (either None: any)."""
    if organisation is not None:
        queryset = queryset.filter(**{f"{prefix}organisation": organisation})
    if level is not None:
        queryset = queryset.filter(**{f"{prefix}organisation__level__key": level})
    return queryset


def reject_empty_filters(request) -> None:
    """A filter given with no value is a client error here (forms on pages send blanks; API
    clients should leave the parameter out), so `?status=` is a 400, not "any status"."""
    for name, values in request.query_params.lists():
        if any(not value.strip() for value in values):
            raise BadRequest(f"{name}: a value is required when the parameter is given.")


def parse_moment(request, name: str, *, end: bool = False) -> datetime | None:
    """An ISO 8601 datetime or date query parameter; a bare date `until` covers that whole day.
    Its date must lie within the date horizon (bounds.date_horizon)."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        # parse_date first: parse_datetime would read a bare date as midnight.
        day = parse_date(raw)
        moment = None if day else parse_datetime(raw)
    except ValueError:
        moment = day = None
    if day is None and moment is None:
        raise BadRequest(f"{name}: expected an ISO 8601 date or datetime, got {raw!r}.")
    try:
        bounds.validate_date_in_horizon(day or moment)
    except DjangoValidationError as exc:
        raise BadRequest(f"{name}: {' '.join(exc.messages)}") from None
    if day is not None:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    try:
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (found by
        # fuzzing: `+23:10` was a 500 that also aborted the request's transaction).
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadRequest(f"{name}: {raw!r} is out of range.") from None


class ReportRequestInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    aspect = CodeField(
        slug_field="code",
        queryset=Aspect.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="Programme reports: one aspect's code, or null for the whole programme",
    )
    case = serializers.IntegerField(
        allow_null=True,
        required=False,
        default=None,
        help_text="Completion reports: the completed case to make a new version for",
    )
