"""My work: the one to-do list per person (workflows/worklist.py reads it)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflows.cases import worklist
from workflows.common import reach as access
from workflows.supervision import urging

# The page shows the most urgent items; each source reads at most this many rows.
WORK_SHOWN = 50


@login_required
def my_work(request):
    entries = worklist.work_list(request.user, limit=WORK_SHOWN)
    context = {
        "entries": entries,
        "count": worklist.work_count(request.user),
        "shown": WORK_SHOWN,
    }
    return render(request, "workflows/my_work.html", context)


@login_required
@require_POST
def urge(request, target: str, pk: int):
    """Urge one open item's holders (coordinators and the supervising leader)."""
    try:
        item = urging.item_get(target=target, pk=pk)
    except (ObjectDoesNotExist, urging.UrgeRefused) as exc:
        raise Http404 from exc
    if not access.can_view_case(request.user, item.case):
        raise Http404
    try:
        urging.item_urge(
            user=request.user, target=target, item=item, note=request.POST.get("note", "")
        )
    except urging.UrgeRefused as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Urged: the people holding it have been notified."))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("workflows:case", args=[item.case_id])
    return redirect(back)
