"""Human words for the product's internal keys: audit verbs, step kinds, event details, people.

One mapping, in both languages (the labels are translation entries), used by pages, PDFs,
mails and exports, so no page shows `task_created`, `implement` or a Python dict.
"""

import datetime
from collections.abc import Iterable

from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from workflows.models import StepKind

# Verb → what happened, as a short phrase. Unknown verbs fall back to their key with spaces.
VERBS = {
    "task_created": _("Step opened"),
    "task_assigned": _("Step assigned"),
    "task_claimed": _("Step claimed"),
    "task_reassigned": _("Step reassigned"),
    "task_paused": _("Clock paused"),
    "task_resumed": _("Clock resumed"),
    "submitted": _("Submitted"),
    "approved": _("Approved"),
    "returned": _("Returned for rework"),
    "completed": _("Completed"),
    "case_launched": _("Case launched"),
    "case_completed": _("Case completed"),
    "case_cascaded": _("Cascaded"),
    "cascade_job_started": _("Cascade to a level started"),
    "cascade_job_finished": _("Cascade to a level finished"),
    "child_completed": _("Child case completed"),
    "completion_guard_overridden": _("Completion allowed with child cases open"),
    "progress_reported": _("Progress reported"),
    "evidence_added": _("Evidence added"),
    "evidence_downloaded": _("Evidence downloaded"),
    "comment_added": _("Comment added"),
    "deadline_extended": _("Deadline extended"),
    "due_recomputed": _("Due date recomputed"),
    "deadline_cap_moved": _("Deadline cap moved"),
    "escalated": _("Escalated"),
    "extension_requested": _("Extension requested"),
    "extension_decided": _("Extension request decided"),
    "extension_withdrawn": _("Extension request withdrawn"),
    "extension_lapsed": _("Extension request lapsed"),
    "supervision_order_issued": _("Supervision order issued"),
    "supervision_order_answered": _("Supervision order answered"),
    "supervision_order_stepped_up": _("Supervision order stepped up"),
    "summons_recorded": _("Summons meeting recorded"),
    "instruction_issued": _("Leader instruction issued"),
    "instruction_replied": _("Leader instruction answered"),
    "feedback_cycle_opened": _("Feedback round opened"),
    "feedback_submitted": _("Feedback submitted"),
    "feedback_missed": _("Feedback missed"),
    "partner_input_given": _("Partner department's input given"),
    "report_requested": _("Report requested"),
    "report_generated": _("Report generated"),
    "report_render_failed": _("Report failed to render"),
    "report_downloaded": _("Report downloaded"),
    "file_missing": _("File missing"),
    "files_verified": _("Files verified"),
    "audit_verified": _("Audit chain verified"),
    "appraisal_rebuilt": _("Appraisal recalculated"),
    "catalogue_imported": _("Catalogue imported"),
    "catalogue_exported": _("Catalogue exported"),
    "calendar_imported": _("Working-day calendar imported"),
    "notification_mode_changed": _("Notification preference changed"),
    "language_changed": _("Language changed"),
    "calendar_feed_created": _("Calendar address made"),
    "calendar_feed_revoked": _("Calendar address revoked"),
    "calendar_feed_read": _("Calendar feed read"),
    "logged_in": _("Signed in"),
    "logged_out": _("Signed out"),
    "login_failed": _("Sign-in failed"),
    "sweep_fault": _("Deadline sweep fault"),
    "admin_added": _("Added in the administration"),
    "admin_changed": _("Changed in the administration"),
    "admin_deleted": _("Deleted in the administration"),
    "urged": _("Urged"),
    "substitute_named": _("Substitute named"),
    "substitute_ended": _("Substitution ended"),
    "saved_view_saved": _("Saved view saved"),
    "saved_view_deleted": _("Saved view deleted"),
    "report_scheduled": _("Report scheduled"),
    "scheduled_report_sent": _("Scheduled report sent"),
}
# Every verb the code records (the audit desk's filter offers these, not a scan of the trail);
# tests/test_audit_desk.py checks that each `verb=` in the code is listed.
AUDIT_VERBS = frozenset(VERBS)

# Keys of an event's data → label. Keys not listed are shown with their underscores as spaces.
DETAIL_LABELS = {
    "step": _("Step"),
    "kind": _("Kind"),
    "assignee": _("Assigned to"),
    "to": pgettext_lazy("audit detail", "To"),
    "from": pgettext_lazy("audit detail", "From"),
    "due_at": _("Due"),
    "deadline_cap": _("Deadline cap"),
    "capped_from": _("Due before the cap"),
    "measure": _("Measure"),
    "organisation": _("Organisation"),
    "parent_case": _("Parent case"),
    "created": _("New cases"),
    "existing": _("Existing cases"),
    "level": _("Level"),
    "note": _("Note"),
    "percent": _("Percent complete"),
    "text": _("Text"),
    "rung": _("Rung"),
    "username": _("User name"),
    "ip": _("IP address"),
    "user_agent": _("Browser"),
    "fields": _("Fields"),
    "message": _("Message"),
    "file": _("File"),
    "days": _("Days"),
    "moved": _("Due dates moved"),
    "colour": _("Colour"),
    "reason": _("Reason"),
    "report": _("Report"),
    "version": _("Version"),
    "path": _("Page"),
    "feed": _("Calendar address"),
    "items": _("Items"),
    "revoked": _("Addresses revoked"),
    "on_behalf_of": _("On behalf of"),
    "sealed": _("Sealed before the check"),
    # A verification of the audit chain (audit/trail.py).
    "ok": _("Chain intact"),
    "count": _("Events checked"),
    "broken_event": _("First broken event"),
    "problem": _("Problem"),
    "pending": _("Events awaiting their seal"),
}


def listing(words: Iterable[str]) -> str:
    """Words joined as the language lists them ('Beijing, Guangdong' / '北京、广东')."""
    return gettext(", ").join(words)


def verb_label(verb: str) -> str:
    """The verb as a phrase in the active language ('task_created' → 'Step opened')."""
    label = VERBS.get(verb)
    return str(label) if label is not None else verb.replace("_", " ").capitalize()


def verb_choices(verbs: Iterable[str]) -> list[tuple[str, str]]:
    """(verb, phrase) pairs for a filter's select, sorted by the phrase."""
    return sorted(((v, verb_label(v)) for v in verbs), key=lambda pair: pair[1])


def kind_label(kind: str) -> str:
    """A step kind as a word ('implement' → 'Implement'), '' for none."""
    if not kind:
        return ""
    try:
        return str(StepKind(kind).label)
    except ValueError:
        return kind.replace("_", " ")


def person(user) -> str:
    """A person as every page names them: full name, falling back to the user name."""
    if user is None:
        return ""
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def _plain_date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def when(value) -> str:
    """A date or time in the active language's style, in the active time zone."""
    if isinstance(value, str):
        # A plain date ("2027-03-01") stays a date: parse_datetime would read it as midnight.
        parsed = _plain_date(value) or parse_datetime(value)
        if parsed is None:
            try:
                parsed = datetime.date.fromisoformat(value)
            except ValueError:
                return value
        value = parsed
    if isinstance(value, datetime.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return formats.date_format(value, "DATE_FORMAT")
    return str(value)


def _titles(codes: Iterable[str]) -> dict[str, object]:
    from workflows.models import Organisation

    return {o.code: o for o in Organisation.objects.filter(code__in=set(codes))}


def organisation_names(codes: Iterable[str], known: dict | None = None) -> list[str]:
    """Organisation titles in the active language for their codes, in the order given."""
    codes = list(codes)
    found = known if known is not None else _titles(codes)
    return [found[code].title if code in found else code for code in codes]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value else []


# The details that name a person by user name, per verb (on_behalf_of on every verb).
_PEOPLE_KEYS = {
    "task_assigned": ("on_behalf_of", "to"),
    "task_reassigned": ("on_behalf_of", "to", "from"),
}


def _named(event, username: str) -> str:
    """A person named by user name in an event's details, as pages name people."""
    known = getattr(event, "people_named", None)
    if known is None:
        known = _people([username])
    found = known.get(username)
    return person(found) if found is not None else username


def events_primed(events: list) -> list:
    """The events, with the organisations their details name loaded in one query (so a page
    of history costs the same however many cascades it holds)."""
    codes = [
        code
        for event in events
        if isinstance(event.data, dict)
        for key in ("created", "existing", "organisation")
        for code in _as_list(event.data.get(key))
        if isinstance(code, str)
    ]
    known = _titles(codes) if codes else {}
    # The people substitutes acted for, by user name (one query, only when there are any).
    # and the people tasks were assigned to, by user name (one query, only when there are any).
    behalf = {
        event.data[key]
        for event in events
        if isinstance(event.data, dict)
        for key in _PEOPLE_KEYS.get(event.verb, ("on_behalf_of",))
        if isinstance(event.data.get(key), str)
    }
    people = _people(behalf) if behalf else {}
    for event in events:
        event.organisations_named = known
        event.people_named = people
    return events


def _people(usernames: Iterable[str]) -> dict[str, object]:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(username__in=set(usernames))
    return {user.get_username(): user for user in users}


def on_behalf_name(event) -> str:
    """The display name of the person a substitute acted for ('' when none)."""
    data = event.data if isinstance(event.data, dict) else {}
    username = data.get("on_behalf_of")
    if not username or not isinstance(username, str):
        return ""
    return _named(event, username)


def actor_name(event) -> str:
    """Who did it, in words: the actor's name, else the recorded user name, else 'system'."""
    if event.actor_id and event.actor is not None:
        return person(event.actor)
    return event.actor_name or gettext("system")


def event_sentence_by(event) -> str:
    """The event as a sentence naming who did it when a substitute did it: 'Approved by Wang
    Wei on behalf of Li Na' / '王伟 代 李娜 已同意'; otherwise `event_sentence`."""
    what = event_sentence(event)
    behalf = on_behalf_name(event)
    if not behalf:
        return what
    return gettext("%(what)s by %(actor)s on behalf of %(person)s") % {
        "what": what,
        "actor": actor_name(event),
        "person": behalf,
    }


def event_sentence(event) -> str:
    """What an audit event says, as one phrase: 'Cascaded to Guangdong, Beijing'."""
    data = event.data if isinstance(event.data, dict) else {}
    verb = event.verb
    if verb == "case_cascaded" and data.get("created"):
        return gettext("Cascaded to %(places)s") % {
            "places": listing(
                organisation_names(data["created"], getattr(event, "organisations_named", None))
            )
        }
    if verb in ("task_assigned", "task_reassigned") and data.get("to"):
        return gettext("%(what)s to %(who)s") % {
            "what": verb_label(verb),
            "who": _named(event, data["to"]) if isinstance(data["to"], str) else data["to"],
        }
    if verb in ("deadline_extended", "due_recomputed") and data.get("to"):
        return gettext("%(what)s to %(due)s") % {"what": verb_label(verb), "due": when(data["to"])}
    if verb == "task_created" and data.get("due_at"):
        return gettext("Step opened, due %(due)s") % {"due": when(data["due_at"])}
    return verb_label(verb)


def level_name(key: str) -> str:
    """An organisation level by its title in the active language ("省级总工会"), not its key."""
    from workflows.models import OrganisationLevel

    level = OrganisationLevel.objects.filter(key=key).first()
    return level.title if level is not None else key


def _value(key: str, value, known: dict | None = None) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if value is None or value == "":
        return "—"
    if key == "kind":
        return kind_label(str(value))
    if key in ("created", "existing") and isinstance(value, list):
        return listing(organisation_names(value, known)) or "—"
    if key == "organisation" and isinstance(value, str):
        return organisation_names([value], known)[0]
    if key == "level" and isinstance(value, str):
        return level_name(value)
    if isinstance(value, str) and key.endswith(("_at", "_cap", "from", "to")):
        return when(value) if value[:4].isdigit() else value
    if key == "deadline_cap" or key == "capped_from":
        return when(value)
    if isinstance(value, dict):
        return "; ".join(f"{_label(k)}: {_value(k, v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return listing(_value(key, v) for v in value) or "—"
    return str(value)


def _label(key: str) -> str:
    label = DETAIL_LABELS.get(key)
    return str(label) if label is not None else key.replace("_", " ").capitalize()


def detail_lines(
    data, skip: Iterable[str] = (), known: dict | None = None
) -> list[tuple[str, str]]:
    """An event's data as readable (label, value) lines, never a Python dict."""
    if not isinstance(data, dict):
        return [] if not data else [("", str(data))]
    return [
        (_label(key), _value(key, value, known))
        for key, value in data.items()
        if key not in skip and value not in (None, "", [], {})
    ]


def event_details(event) -> list[tuple[str, str]]:
    """The event's data as lines, less what its row already shows (the step, the measure)."""
    skip = {"step", "kind"} if event.work_item_id else set()
    skip.add("on_behalf_of")  # the action's sentence names them (event_sentence_by)
    if event.case_id:
        skip.add("measure")
    lines = detail_lines(event.data, skip, getattr(event, "organisations_named", None))
    people = _PEOPLE_KEYS.get(event.verb, ())
    if not people or not isinstance(event.data, dict):
        return lines
    # Assignment details name people by user name: shown as pages name them.
    labels = {_label(key): key for key in people}
    return [
        (label, _named(event, event.data[labels[label]]))
        if label in labels and isinstance(event.data.get(labels[label]), str)
        else (label, value)
        for label, value in lines
    ]


ZONES = {"Asia/Shanghai": _("Beijing time"), "UTC": _("UTC")}


def zone_name(zone=None) -> str:
    """The time zone named in words: 'Beijing time' / '北京时间' for Asia/Shanghai."""
    key = str(zone or timezone.get_current_timezone())
    label = ZONES.get(key)
    return str(label) if label is not None else key.replace("_", " ")


def holder(item) -> str:
    """Who a work item now waits on, in words: a department's head, a leader, a person or a
    department's staff (the role first: 'the head of the Network Work Department')."""
    if item.department_id and item.for_head:
        return gettext("the head of the %(department)s") % {"department": item.department.title}
    if item.leader_role_id:
        return item.leader_role.title
    if item.assignee_id:
        return person(item.assignee)
    if item.department_id:
        return gettext("the staff of the %(department)s") % {"department": item.department.title}
    return ""


DONE_WORDS = {
    "submitted": _("Submitted"),
    "approved": _("Approved"),
    "returned": _("Returned for rework"),
    "completed": _("Completed"),
}


def handoff_message(item) -> str:
    """The confirmation after acting on a task, saying what happened and where the case went:
    'Submitted to the head of the Network Work Department.'"""
    from workflows.models import WorkItem, WorkItemStatus

    item.refresh_from_db(fields=["status", "outcome"])
    if item.status == WorkItemStatus.OPEN:
        return gettext("Progress reported.")
    done = str(DONE_WORDS.get(item.outcome, _("Done")))
    following = (
        WorkItem.objects.filter(case_id=item.case_id, status=WorkItemStatus.OPEN)
        .select_related("assignee", "department", "leader_role")
        .order_by("-pk")
        .first()
    )
    who = holder(following) if following is not None else ""
    if who:
        return gettext("%(done)s to %(who)s.") % {"done": done, "who": who}
    if following is None:
        return gettext("%(done)s. The case is completed.") % {"done": done}
    return gettext("%(done)s.") % {"done": done}


def launch_message(created: int, skipped: int) -> str:
    """'1 case launched.' or '2 cases launched, 1 already open.', with proper plurals."""
    launched = ngettext("%(n)d case launched", "%(n)d cases launched", created) % {"n": created}
    if not skipped:
        return gettext("%(launched)s.") % {"launched": launched}
    rest = ngettext("%(n)d already open", "%(n)d already open", skipped) % {"n": skipped}
    return gettext("%(launched)s, %(rest)s.") % {"launched": launched, "rest": rest}


def cascade_message(created: int, existing: int) -> str:
    """'1 child case launched.' or '0 child cases launched, 2 already there.'"""
    launched = ngettext("%(n)d child case launched", "%(n)d child cases launched", created) % {
        "n": created
    }
    if not existing:
        return gettext("%(launched)s.") % {"launched": launched}
    rest = ngettext("%(n)d already there", "%(n)d already there", existing) % {"n": existing}
    return gettext("%(launched)s, %(rest)s.") % {"launched": launched, "rest": rest}


def order_colour_label(colour: str) -> str:
    """'orange' → 'Orange' / '橙色'."""
    from workflows.models.supervision import OrderColour

    try:
        return str(OrderColour(colour).label)
    except ValueError:
        return colour
