"""A person's private calendar feed: My work's due dates as an `.ics` address that Outlook,
Apple, Google and DingTalk calendars subscribe to.

The address holds a random token (`secrets.token_urlsafe(32)`); only its SHA-256 is stored,
so the address is shown once, when it is made, and a copy of the database opens no feed.
Making a new address revokes the old one. The feed lists what My work lists
(`worklist.work_list`, computed through the rule of reach for the token's owner at each read),
so an owner who loses a department, a federation or their account loses the items with it.

Reads are recorded: every read sets `last_used_at`, and one read per feed per hour is appended
to the audit trail. Calendar clients poll every few minutes to every few hours; an event per
poll would make most of the trail feed reads (and most of the sealer's work), while an hourly
event still shows who read the feed and when.
"""

import datetime as dt
import hashlib
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vDuration

from workflows.audit.trail import audit_record
from workflows.cases import worklist
from workflows.common import wording
from workflows.common.calendar import local_date
from workflows.models import CalendarFeed
from workflows.notifications.compose import absolute_url, language_of

# The feed lists at most this many items, the most urgent first (My work's order).
FEED_LIMIT = 200
# A feed's reads reach the audit trail at most once in this long (see the module's note).
READ_AUDIT_EVERY = dt.timedelta(hours=1)
# Calendar clients that honour it (Apple, Outlook) refresh hourly.
REFRESH = dt.timedelta(hours=1)
# Longer than any token this module makes; longer input is not looked up.
TOKEN_MAX = 100


def token_digest(token: str) -> str:
    """The hex SHA-256 under which a token's feed is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(token: str) -> str:
    """The feed's absolute address (SITE_URL in front)."""
    return absolute_url(reverse("calendar_feed", args=[token]))


# --------------------------------------------------------------------------- writes


def calendar_feed_create(*, user) -> tuple[CalendarFeed, str]:
    """A new secret address for the user's calendar; revokes the live one. Returns the feed
    and its token, which is not stored and cannot be shown again."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # One maker at a time per person: the row lock on the user serialises them.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        revoked = _revoke_live(user)
        feed = CalendarFeed.objects.create(user=user, token_hash=token_digest(token))
        audit_record(
            verb="calendar_feed_created", actor=user, data={"feed": feed.pk, "revoked": revoked}
        )
    return feed, token


def calendar_feed_revoke(*, user) -> bool:
    """Revoke the user's live address, if any; returns whether one was revoked."""
    with transaction.atomic():
        revoked = _revoke_live(user)
        if revoked:
            audit_record(verb="calendar_feed_revoked", actor=user, data={"feed": revoked})
    return bool(revoked)


def _revoke_live(user) -> list[int]:
    live = CalendarFeed.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
    ids = list(live.values_list("pk", flat=True))
    if ids:
        CalendarFeed.objects.filter(pk__in=ids).update(revoked_at=timezone.now())
    return ids


def calendar_feed_record_read(*, feed: CalendarFeed, items: int) -> bool:
    """Record one read of a live feed: `last_used_at` always, an audit event at most once per
    READ_AUDIT_EVERY. Returns False if the feed was revoked meanwhile (serve nothing)."""
    now = timezone.now()
    live = CalendarFeed.objects.filter(pk=feed.pk, revoked_at__isnull=True)
    due = Q(last_audited_at__isnull=True) | Q(last_audited_at__lte=now - READ_AUDIT_EVERY)
    with transaction.atomic():
        if live.filter(due).update(last_used_at=now, last_audited_at=now):
            audit_record(
                verb="calendar_feed_read", actor=feed.user, data={"feed": feed.pk, "items": items}
            )
            return True
        return bool(live.update(last_used_at=now))


# --------------------------------------------------------------------------- reads


def calendar_feed_get_live(user) -> CalendarFeed | None:
    """The user's live feed (its token is not known any more), or None."""
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).first()


def calendar_feed_get_by_token(token: str) -> CalendarFeed | None:
    """The live feed of an active person that this token opens, with its owner; None for an
    unknown, revoked or malformed token and for an inactive owner (all alike to the caller)."""
    if not token or len(token) > TOKEN_MAX:
        return None
    rows = CalendarFeed.objects.select_related("user__profile").filter(
        token_hash=token_digest(token), revoked_at__isnull=True, user__is_active=True
    )
    return rows.first()


def calendar_feed_ics(user) -> tuple[bytes, int]:
    """The user's open items with a due date as an iCalendar document in their language, and
    how many events it holds. A fixed number of queries (My work's), whatever the data."""
    with translation.override(language_of(user)):
        entries = [e for e in worklist.work_list(user, limit=FEED_LIMIT) if e.due_at]
        calendar = _calendar(user)
        stamp = timezone.now()
        for entry in entries:
            calendar.add_component(_event(entry, stamp))
    return calendar.to_ical(), len(entries)


def _host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "reformflow"


def _calendar(user) -> Calendar:
    calendar = Calendar()
    name = _("Reformflow: my due dates")
    calendar.add("prodid", "-//Reformflow//Calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("name", name)
    calendar.add(
        "x-wr-caldesc",
        _("Due dates of the work waiting for %(person)s in Reformflow.")
        % {"person": wording.person(user)},
    )
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    return calendar


def _event(entry: worklist.WorkEntry, stamp: dt.datetime) -> Event:
    """One all-day event on the item's due day (Beijing time): deadlines show as a day's
    marker and block no time; the hour is in the description."""
    if entry.due_at is None:  # calendar_feed_ics keeps only dated items
        raise ValueError("an item without a due date has no place in the calendar")
    day = local_date(entry.due_at)
    url = absolute_url(entry.url)
    event = Event()
    event.add("uid", f"reformflow-{entry.kind.replace('_', '-')}-{entry.pk}@{_host()}")
    event.add("dtstamp", stamp)
    event.add("summary", f"{entry.measure_code} {entry.what}")
    event.add("dtstart", day)
    event.add("dtend", day + dt.timedelta(days=1))
    event.add("transp", "TRANSPARENT")
    event.add("categories", [entry.kind_label])
    event.add("url", url)
    due = _("Due %(when)s (%(zone)s)") % {
        "when": wording.when(entry.due_at),
        "zone": wording.zone_name(),
    }
    lines = [
        f"{entry.kind_label}: {entry.what}",
        f"{entry.measure_code} {entry.measure_title}",
        entry.organisation,
        due,
        url,
    ]
    event.add("description", "\n".join(lines))
    return event
