"""A person's notification log and their mail preferences."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from workflows.cases import selectors
from workflows.common import reach as access
from workflows.common.keyset import keyset_bound, keyset_page
from workflows.models import (
    NotificationStatus,
    Profile,
)
from workflows.organisations import profiles
from workflows.web import forms
from workflows.web.cases import PAGE_SIZE
from workflows.web.middleware import auditors_may_post


@login_required
def notification_log(request):
    """The notification log, for coordinators and auditors: the messages within their reach."""
    if not access.reads_logs(request.user):
        raise PermissionDenied
    status = request.GET.get("status", "")
    rows = selectors.notification_list(request.user, status=status or None)
    # By id, newest first (`before`/`after`): no COUNT(*) over a million messages, and an
    # older page costs what the first does.
    page = keyset_page(
        rows,
        size=PAGE_SIZE,
        before=keyset_bound(request.GET.get("before"), field="before"),
        after=keyset_bound(request.GET.get("after"), field="after"),
    )
    return render(
        request,
        "workflows/notifications.html",
        {"page": page, "status": status, "statuses": NotificationStatus.choices},
    )


@auditors_may_post  # their own mail preference, not case data
@login_required
def notification_preferences(request):
    """Each user chooses immediate mail or the daily digest only."""
    profile, _created = Profile.objects.get_or_create(user=request.user)
    form = forms.NotificationPreferenceForm(
        request.POST or None, initial={"notification_mode": profile.notification_mode}
    )
    if request.method == "POST" and form.is_valid():
        profiles.notification_mode_set(
            user=request.user, mode=form.cleaned_data["notification_mode"]
        )
        messages.success(request, _("Your notification preference is saved."))
        return redirect("workflows:preferences")
    return render(request, "workflows/preferences.html", {"form": form})
