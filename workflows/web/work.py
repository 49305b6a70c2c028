"""My work: the one to-do list per person (workflows/worklist.py reads it)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflows.cases import worklist
from workflows.common import reach as access
from workflows.supervision import urging

# Items per page of My work; each page costs the same queries (workflows/cases/worklist.py).
WORK_SHOWN = 50


@login_required
def my_work(request):
    count = worklist.work_count(request.user)
    # Paginator over the count alone: the list itself is read a page at a time.
    page = Paginator(range(count), WORK_SHOWN, allow_empty_first_page=True).get_page(
        request.GET.get("page")
    )
    offset = (page.number - 1) * WORK_SHOWN
    entries = worklist.work_list(request.user, limit=WORK_SHOWN, offset=offset)
    context = {
        "entries": entries,
        "count": count,
        "shown": WORK_SHOWN,
        "page": page,
        "first_rank": offset + 1,
        "last_rank": offset + len(entries),
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
