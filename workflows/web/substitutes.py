"""My substitute (out of office): name one for a period; coordinators name one for someone away."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from workflows.common import reach as access
from workflows.models import Substitution
from workflows.organisations import substitutes


def _user(username: str):
    return get_user_model().objects.filter(username=(username or "").strip()).first()


@login_required
def my_substitute(request):
    user = request.user
    if request.method == "POST" and not access.is_auditor(user):
        try:
            if request.POST.get("action") == "end":
                row = Substitution.objects.filter(pk=request.POST.get("id") or 0).first()
                if row is None:
                    raise ValidationError(_("No such substitution."))
                substitutes.substitution_end(row=row, by=user)
            else:
                person = _user(request.POST.get("person")) if request.POST.get("person") else user
                substitute = _user(request.POST.get("substitute"))
                if person is None or substitute is None:
                    raise ValidationError(_("There is no such user."))
                substitutes.substitution_set(
                    person=person,
                    substitute=substitute,
                    starts_on=dt.date.fromisoformat(request.POST.get("starts_on", "")),
                    ends_on=dt.date.fromisoformat(request.POST.get("ends_on", "")),
                    by=user,
                )
        except (ValueError, ValidationError, PermissionDenied) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, text or _("Give the dates as YYYY-MM-DD."))
        else:
            messages.success(request, _("Saved."))
        return redirect("workflows:substitute")
    return render(
        request,
        "workflows/substitute.html",
        {
            "rows": substitutes.substitutions_of(user),
            "is_coordinator": access.is_coordinator(user),
            "is_auditor": access.is_auditor(user),
        },
    )
