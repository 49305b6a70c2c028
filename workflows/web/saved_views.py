"""Saving and deleting a task list's view (workflows.cases.saved_views), from the list page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflows.cases import saved_views
from workflows.common.bounds import InputRejected
from workflows.web.middleware import auditors_may_post


@login_required
@require_POST
@auditors_may_post  # their own list's view, not case data
def saved_view_save(request):
    page = request.POST.get("page", "")
    try:
        view = saved_views.saved_view_save(
            user=request.user,
            page=page,
            name=request.POST.get("name", ""),
            querystring=request.POST.get("querystring", ""),
        )
    except ValidationError as exc:
        if page not in saved_views.PAGES:
            raise InputRejected("page", " ".join(exc.messages)) from None
        messages.error(request, " ".join(exc.messages))
        return redirect(f"workflows:{page}")
    messages.success(request, _("View saved."))
    suffix = f"?{view.querystring}" if view.querystring else ""
    return redirect(f"{reverse(f'workflows:{view.page}')}{suffix}")


@login_required
@require_POST
@auditors_may_post
def saved_view_delete(request, view_id: int):
    page = saved_views.saved_view_delete(user=request.user, view_id=view_id)
    messages.success(request, _("View deleted."))
    return redirect(f"workflows:{page}")
