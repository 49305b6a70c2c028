"""The private calendar feed: the public `.ics` address (the token is the only key) and the
page where a person makes or revokes theirs (workflows/cases/calendar_feed.py does the work)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from workflows.cases import calendar_feed as feeds
from workflows.common import reach as access


@require_safe
def calendar_feed(request, token: str):
    """The owner's due dates as iCalendar; any token that opens no live feed is a plain 404."""
    feed = feeds.calendar_feed_get_by_token(token)
    if feed is None:
        raise Http404
    body, items = feeds.calendar_feed_ics(feed.user)
    if not feeds.calendar_feed_record_read(feed=feed, items=items):
        raise Http404  # revoked while it was being read
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="reformflow.ics"'
    response["Cache-Control"] = "private, no-cache"
    # The address is the key: never pass it on as a referrer, never index it.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@login_required
@never_cache
def my_calendar(request):
    """Make (or make again) or revoke one's calendar address; a new address is shown once."""
    user = request.user
    token: str | None = None  # only right after making one: it is never stored
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            _feed, token = feeds.calendar_feed_create(user=user)
        else:
            if action != "revoke":
                messages.error(request, _("Choose to make or to revoke the address."))
            elif feeds.calendar_feed_revoke(user=user):
                revoked = _("The calendar address is revoked: it shows nothing now.")
                messages.success(request, revoked)
            return redirect("workflows:calendar")
    address = feeds.feed_url(token) if token else ""
    return render(
        request,
        "workflows/calendar_feed.html",
        {
            "feed": feeds.calendar_feed_get_live(user),
            "address": address,
            # The same address for the calendar app the system opens (webcal:// subscribes).
            "webcal": "webcal://" + address.split("://", 1)[-1] if address else "",
            "is_auditor": access.is_auditor(user),
            "limit": feeds.FEED_LIMIT,
        },
    )
