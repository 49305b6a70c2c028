"""How the API answers errors: the services' exceptions mapped to HTTP codes, always as
`{"detail": "<message>"}`, and the error responses the schema documents.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiResponse,
)
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler

from workflows.common.errors import TaskConflict


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The task changed before your action; nothing was changed."
    default_code = "conflict"


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request is not valid."
    default_code = "invalid"


def _first_message(errors) -> str:
    """The first message in DRF's nested field errors, prefixed with its field name."""
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def exception_handler(exc, context):
    """DRF's handler plus the services' exceptions; the body is always `{"detail": message}`.

    TaskConflict -> 409, ReasonRequired/ValidationError -> 400, PermissionDenied -> 403 with
    the service's reason (DRF's own handler would swap it for a generic one), Http404 -> 404
    naming no model. Input errors from serializers also keep their per-field form under `errors`.
    """
    if isinstance(exc, TaskConflict):
        exc = Conflict(str(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError) and hasattr(exc, "error_dict"):
        # A service naming the field (e.g. bounds.check_date): kept per field, as input errors.
        exc = exceptions.ValidationError(exc.message_dict)
    elif isinstance(exc, DjangoValidationError):
        exc = BadRequest(" ".join(str(message) for message in exc.messages))
    elif isinstance(exc, Http404):
        # The same words whether the row is missing or on a case the caller cannot see.
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _first_message(exc.detail), "errors": exc.detail}
    return response


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Per-field messages (input errors)")


_ERROR_DESCRIPTIONS = {
    400: "Invalid input: a missing reason, a bad percent or page, or the wrong action for the step",
    401: "Not logged in",
    403: "Not allowed: not your task or queue, auditor, separation of duties, not a coordinator",
    404: "Not found, or on a case you cannot see",
    409: "The task is already done or taken by someone else; nothing was changed",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in codes
    }
