"""My work: everything waiting for one person, from every source, in one list.

Six sources feed it: open tasks (assigned or in a queue the person serves), extension requests
to decide, supervision orders to answer, leader instructions to reply to, feedback cycles due
and partner inputs owed. One query merges them and cuts the page (most urgent first across
every kind), then one per kind loads the page's rows, so any page costs the same number of
queries whatever the data; the count behind the menu and the pager is one query.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import DateTimeField, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from workflows.cases import selectors
from workflows.common import page_cache
from workflows.common import reach as access
from workflows.common.calendar import WorkingCalendar, local_date
from workflows.models import (
    ExtensionRequest,
    ExtensionStatus,
    FeedbackCycle,
    LeaderInstruction,
    PartnerInput,
    SupervisionOrder,
    WorkItem,
)
from workflows.models.supervision import CycleStatus, OrderStatus

# Seconds a user's My work count and pages are kept in the shared cache; every write that can
# change them (a task, extension request, order, instruction or cycle opened, closed or moved,
# a title renamed) moves the stamp.
WORK_COUNT_CACHE_SECONDS = 300

# What each kind of item asks of the person, as the list and the API name it.
KINDS = {
    "task": _("Task"),
    "extension": _("Extension request to decide"),
    "order": _("Supervision order to answer"),
    "instruction": _("Leader instruction to reply to"),
    "cycle": _("Progress report due"),
    "partner_input": _("Partner input owed"),
}


@dataclass(frozen=True)
class WorkEntry:
    """One thing the person should do, with where to do it and how urgent it is."""

    kind: str
    pk: int
    what: str
    case_id: int
    measure_code: str
    measure_title: str
    organisation: str
    due_at: dt.datetime | None
    url: str
    # Working days from today to the due day: negative when overdue, None without a due date.
    days_left: int | None = None

    @property
    def kind_label(self) -> str:
        return str(KINDS[self.kind])

    @property
    def days_overdue(self) -> int:
        return -self.days_left if self.days_left is not None and self.days_left < 0 else 0

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


def _sources(user) -> dict[str, QuerySet]:
    """Each source's open items for the user, within their reach (unordered, unevaluated)."""
    reach = access.reach_of(user)
    if not reach.authenticated or reach.auditor:
        return {}
    headed, staffed = reach.departments
    lead = headed | staffed
    sources: dict[str, QuerySet] = {"task": access.work_item_list_actionable(user)}
    deciding = Q(pk__in=[])
    if headed:
        deciding |= Q(status=ExtensionStatus.PENDING_HEAD, case__lead_department__in=headed)
    if reach.leader_roles:
        deciding |= Q(
            status=ExtensionStatus.PENDING_LEADER, case__supervising_leader__in=reach.leader_roles
        )
    sources["extension"] = reach.bounded(
        ExtensionRequest.objects.filter(deciding), "case__organisation"
    )
    sources["order"] = SupervisionOrder.objects.filter(
        status=OrderStatus.OPEN, case__lead_department__in=lead
    )
    sources["instruction"] = LeaderInstruction.objects.filter(
        replied_at__isnull=True, case__lead_department__in=lead
    )
    sources["cycle"] = FeedbackCycle.objects.filter(
        status=CycleStatus.OPEN, case__lead_department__in=lead
    )
    # A partner department is named in the catalogue by its key and resolved in the case's
    # own organisation; it owes input until one of its people has given it.
    owed = Q(pk__in=[])
    for pk, key, organisation_id in reach.department_rows:
        given = PartnerInput.objects.filter(cycle=OuterRef("pk"), department=pk)
        owed |= Q(
            Q(case__organisation=organisation_id, case__measure__partner_departments__key=key)
            & ~Q(Exists(given))
        )
    sources["partner_input"] = FeedbackCycle.objects.filter(
        Q(status=CycleStatus.OPEN) & owed
    ).distinct()
    return sources


_DUE = {
    "task": "due_at",
    "extension": "work_item__due_at",
    "order": "response_due_at",
    "instruction": "due_at",
    "cycle": "due_at",
    "partner_input": "due_at",
}


def work_count(user) -> int:
    """How many items wait for the user: one query, kept for the rest of the request and in
    the shared cache until the change stamp moves (the count is in every page's menu)."""
    reach = access.reach_of(user)
    cached = getattr(reach, "_work_count", None)
    if cached is not None:
        return cached
    key = page_cache.cache_key("work_count", user, personal=True, localised=False)
    count = page_cache.kept(key, lambda: _work_count(user), WORK_COUNT_CACHE_SECONDS)
    reach._work_count = count
    return count


def _work_count(user) -> int:
    sources = _sources(user)
    if not sources:
        return 0
    parts = [qs.order_by().values_list(Value(1)) for qs in sources.values()]
    # Partner inputs may match a cycle once per matching department: counted by pk.
    parts[-1] = sources["partner_input"].order_by().values_list("pk")
    return parts[0].union(*parts[1:], all=True).count()


# Items without a due date sort after every dated one (and the key is never NULL, so both
# databases order the merged list the same way).
_FAR = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def _page_keys(sources: dict[str, QuerySet], *, offset: int, limit: int) -> list[tuple]:
    """(kind, pk) of the page's items across every source, most urgent first: one query
    (a UNION ALL ordered by due date, kind and id, cut to the page)."""
    parts = []
    for kind, qs in sources.items():
        due = Coalesce(F(_DUE[kind]), Value(_FAR), output_field=DateTimeField())
        rows = qs.order_by().annotate(wk_kind=Value(kind), wk_due=due)
        parts.append(rows.values_list("wk_due", "wk_kind", "pk"))
    union = parts[0].union(*parts[1:], all=True).order_by("wk_due", "wk_kind", "pk")
    return [(kind, pk) for _due, kind, pk in union[offset : offset + limit]]


def work_list(
    user, *, limit: int = 50, offset: int = 0, calendar: WorkingCalendar | None = None
) -> list[WorkEntry]:
    """The user's open items, most urgent (earliest due) first: `limit` of them from
    `offset` on, across every kind.

    One query picks the page's items, then one per kind on the page loads them, so the cost
    is fixed whatever the data and however deep the page. The page is kept in the shared
    cache as the count is (per reach, language and change stamp); the working days left are
    counted afresh on every request, since time alone moves them."""
    key = page_cache.cache_key(
        "work_list", user, get_language(), offset, limit, personal=True, localised=False
    )
    entries = page_cache.kept(
        key, lambda: _work_entries(user, limit=limit, offset=offset), WORK_COUNT_CACHE_SECONDS
    )
    if not any(entry.due_at for entry in entries):
        return entries
    calendar = calendar or WorkingCalendar.load()
    today = timezone.localdate()
    return [_with_days_left(entry, calendar, today) for entry in entries]


def _work_entries(user, *, limit: int, offset: int) -> list[WorkEntry]:
    sources = _sources(user)
    if not sources:
        return []
    keys = _page_keys(sources, offset=offset, limit=limit)
    wanted: dict[str, list[int]] = {}
    for kind, pk in keys:
        wanted.setdefault(kind, []).append(pk)
    loaded: dict[tuple[str, int], WorkEntry] = {}
    if wanted.get("task"):
        tasks = selectors.work_item_rows(WorkItem.objects.filter(pk__in=wanted["task"]))
        for item in tasks.select_related("case__organisation"):
            loaded["task", item.pk] = _task_entry(item)
    for kind, model in _MODELS.items():
        if not wanted.get(kind):
            continue
        related = ["case__measure", "case__organisation"]
        if kind == "extension":
            related.append("work_item")
        for row in model.objects.filter(pk__in=wanted[kind]).select_related(*related):
            loaded[kind, row.pk] = _entry(kind, row)
    return [loaded[key] for key in keys if key in loaded]


_MODELS = {
    "extension": ExtensionRequest,
    "order": SupervisionOrder,
    "instruction": LeaderInstruction,
    "cycle": FeedbackCycle,
    "partner_input": FeedbackCycle,
}


def _with_days_left(entry: WorkEntry, calendar: WorkingCalendar, today: dt.date) -> WorkEntry:
    if entry.due_at is None:
        return entry
    due = local_date(entry.due_at)
    if due >= today:
        days = calendar.working_days_between(today, due)
    else:
        days = -calendar.working_days_between(due, today)
    return WorkEntry(**{**entry.__dict__, "days_left": days})


def _task_entry(item: WorkItem) -> WorkEntry:
    case = item.case
    return WorkEntry(
        kind="task",
        pk=item.pk,
        what=item.step.title,
        case_id=case.pk,
        measure_code=case.measure.code,
        measure_title=case.measure.title,
        organisation=case.organisation.title,
        due_at=item.due_at,
        url=reverse("workflows:task", args=[item.pk]),
    )


def _entry(kind: str, row) -> WorkEntry:
    case = row.case
    if kind == "cycle" or kind == "partner_input":
        url = reverse("workflows:cycle", args=[row.pk])
    else:
        url = reverse("workflows:supervision", args=[case.pk])
    due_at = row.work_item.due_at if kind == "extension" else getattr(row, _DUE[kind])
    return WorkEntry(
        kind=kind,
        pk=row.pk,
        what=str(KINDS[kind]),
        case_id=case.pk,
        measure_code=case.measure.code,
        measure_title=case.measure.title,
        organisation=case.organisation.title,
        due_at=due_at,
        url=url,
    )
