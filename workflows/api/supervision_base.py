"""What the supervision API's views share: the case or cycle as the caller may see it (a 404
otherwise), the federation and month a query names, and their schema parameters.
"""

import datetime as dt
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
)
from rest_framework import exceptions, serializers

from workflows.api.errors import error_responses
from workflows.appraisal import scoring as appraisal
from workflows.cases import selectors
from workflows.common import bounds
from workflows.common import reach as access
from workflows.models import (
    Case,
)

MAX_ID = 2**63 - 1


SUPERVISION_ACTION_ERRORS = error_responses(400, 403, 404)


def visible_case(request, case_id: int) -> Case:
    """The case if the caller may see it (the one rule of reach), else 404."""
    if case_id > MAX_ID:
        raise Http404
    return selectors.case_get_visible(request.user, case_id)


def on_visible_cases(queryset: QuerySet, request, pk: int, *related: str):
    """A row of a case the caller may see, else 404."""
    if pk > MAX_ID:
        raise Http404
    rows = queryset.filter(case__in=access.case_list_visible(request.user))
    return get_object_or_404(rows.select_related(*related), pk=pk)


def code_param(request, name: str) -> str:
    """A code given as a query parameter: printable text of at most 60 characters."""
    value = request.query_params.get(name, "")
    if len(value) > 60 or bounds.clean_text(value) != value:
        raise exceptions.ValidationError({name: ["At most 60 printable characters."]})
    return value


def organisation_param(request):
    """?organisation=<code> within the caller's reach, else the caller's own (national if
    none); a code out of reach (or unknown) is a 404, as on the pages."""
    return selectors.organisation_get_visible(request.user, code_param(request, "organisation"))


_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def period_param(request, organisation) -> dt.date:
    """?period=YYYY-MM within the date horizon; without one, the federation's latest scored
    month, else last month. A bad value is a 400 naming `period`."""
    text = request.query_params.get("period")
    if text is None:
        return appraisal.period_default(organisation)
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


def user_field(field: str, **kwargs):
    return serializers.CharField(
        source=f"{field}.username", allow_null=True, default=None, **kwargs
    )


ORGANISATION_PARAMETER = OpenApiParameter(
    "organisation",
    str,
    description="A federation's code within your reach (default: your own); out of reach: 404",
    examples=[OpenApiExample("Beijing", value="beijing")],
)


PERIOD_PARAMETER = OpenApiParameter(
    "period",
    {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
    description="The month, YYYY-MM, within the date horizon (default: the latest scored month)",
    examples=[OpenApiExample("March 2027", value="2027-03")],
)
