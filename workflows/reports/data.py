"""What a report shows: read in a fixed number of queries, whatever the number of cases.

The programme report covers its organisation's latest case of each measure (an open case
first, else the newest); a completion report covers one case. Deadline history
reads the audit verbs the deadlines work writes and renders whichever of them exist.
"""

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from workflows.common import wording
from workflows.common.markdown_text import markdown_to_html
from workflows.models import (
    AuditEvent,
    Case,
    CatalogueSource,
    Evidence,
    Measure,
    Organisation,
    ProgressUpdate,
    Report,
    ReportKind,
    WorkItem,
    WorkItemStatus,
)
from workflows.reports import figures
from workflows.reports.figures import AspectBar

# How many of a case's latest audit events each kind of report quotes: the programme report
# has thirty cases to cover (and table layout dominates its rendering time).
AUDIT_EXCERPT_LENGTH = {ReportKind.COMPLETION: 20, ReportKind.PROGRAMME: 8}

DEADLINE_VERBS = (
    "task_created",
    "deadline_extended",
    "task_paused",
    "task_resumed",
    "escalated",
    "due_recomputed",
)

# Notes of CatalogueSource.plan_meta["provenance"] that are prose (others are lookup tables).
_PROVENANCE_KEYS = ("article-text", "article-goal", "codes", "replacement", "titles_zh")


@dataclass
class DeadlineEntry:
    at: datetime
    verb: str
    label: str
    step: str
    actor: str
    detail: str
    reason: str


@dataclass
class MeasureSection:
    measure: Measure
    case: Case | None
    open_item: WorkItem | None = None
    overdue: bool = False
    days_overdue: int | None = None
    items: list[WorkItem] = field(default_factory=list)
    deadlines: list[DeadlineEntry] = field(default_factory=list)
    progress: list[ProgressUpdate] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    audit_excerpt: list[AuditEvent] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "measure-" + self.measure.code.replace(".", "-")


@dataclass
class ReportData:
    report: Report
    source: CatalogueSource | None
    as_of: datetime
    generated_by: str
    sections: list[MeasureSection]
    aspect_bars: list[AspectBar]
    on_time: int
    overdue: int
    no_deadline: int
    paused: int
    provenance_notes: list[tuple[str, str]]
    provenance_file: str

    @property
    def open_steps(self) -> int:
        return self.on_time + self.overdue + self.no_deadline + self.paused

    @property
    def launched_sections(self) -> list[MeasureSection]:
        return [s for s in self.sections if s.case is not None]

    @property
    def unlaunched_sections(self) -> list[MeasureSection]:
        """Measures without a case: one table in the programme report, not a page each."""
        return [s for s in self.sections if s.case is None]

    @property
    def provenance_html(self):
        """PROVENANCE.md as formatted text (a safe Markdown subset: workflows/markdown_text)."""
        return markdown_to_html(self.provenance_file) if self.provenance_file else ""


def _display_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _latest_cases(measures: list[Measure], organisation: Organisation) -> dict[int, Case]:
    cases = (
        Case.objects.filter(measure__in=measures, organisation=organisation)
        .select_related("current_step", "lead_department", "supervising_leader")
        .order_by("measure_id", "-is_open", "-created", "-pk")
    )
    latest: dict[int, Case] = {}
    for case in cases:
        latest.setdefault(case.measure_id, case)
    return latest


def _parse_when(value) -> datetime | str | None:
    if not value:
        return None
    parsed = parse_datetime(str(value))
    return timezone.localtime(parsed) if parsed and timezone.is_aware(parsed) else value


def _format_when(value) -> str:
    when = _parse_when(value)
    if isinstance(when, datetime):
        return wording.when(when)
    return str(when or "")


def _deadline_entry(event: AuditEvent) -> DeadlineEntry | None:
    data = event.data or {}
    verb = event.verb
    if verb == "task_created":
        if not data.get("due_at"):
            return None  # a task opened before deadlines existed says nothing about one
        label, detail = _("Step opened"), _("due %(due)s") % {"due": _format_when(data["due_at"])}
    elif verb in ("deadline_extended", "due_recomputed"):
        label = _("Deadline extended") if verb == "deadline_extended" else _("Due date recomputed")
        detail = f"{_format_when(data.get('from'))} → {_format_when(data.get('to'))}"
    elif verb == "task_paused":
        label, detail = _("Clock paused"), ""
    elif verb == "task_resumed":
        label, detail = _("Clock resumed"), ""
    else:
        label, detail = _("Escalated"), _("rung %(rung)s") % {"rung": data.get("rung", "?")}
    step = event.work_item.step.title if event.work_item_id else data.get("step", "")
    return DeadlineEntry(
        at=event.created_at,
        verb=verb,
        label=label,
        step=step,
        actor=event.actor_name,
        detail=detail,
        reason=event.reason,
    )


def _fill_sections(sections: list[MeasureSection], *, as_of: datetime, excerpt: int) -> None:
    """Load every case's work items, events, progress and evidence: five queries in all."""
    by_case = {section.case.pk: section for section in sections if section.case is not None}
    if not by_case:
        return
    case_ids = list(by_case)
    items = WorkItem.objects.filter(case_id__in=case_ids).select_related(
        "step", "assignee", "completed_by", "department", "leader_role"
    )
    for item in items.order_by("case_id", "created_at", "pk"):
        section = by_case[item.case_id]
        section.items.append(item)
        if item.status == WorkItemStatus.OPEN:
            section.open_item = item
    events = (
        AuditEvent.objects.filter(case_id__in=case_ids)
        .select_related("work_item__step", "actor")
        .order_by("case_id", "pk")
    )
    all_events: dict[int, list[AuditEvent]] = defaultdict(list)
    for event in events:
        all_events[event.case_id].append(event)
        if event.verb in DEADLINE_VERBS:
            entry = _deadline_entry(event)
            if entry is not None:
                by_case[event.case_id].deadlines.append(entry)
    for case_id, case_events in all_events.items():
        by_case[case_id].audit_excerpt = case_events[-excerpt:]
    # The organisations the excerpts' cascades name, in one query for the whole report.
    wording.events_primed([e for section in by_case.values() for e in section.audit_excerpt])
    progress = ProgressUpdate.objects.filter(case_id__in=case_ids).select_related(
        "author", "work_item__step"
    )
    for update in progress.order_by("created_at", "pk"):
        by_case[update.case_id].progress.append(update)
    evidence = Evidence.objects.filter(case_id__in=case_ids).select_related(
        "uploaded_by", "work_item__step"
    )
    for item in evidence.order_by("uploaded_at", "pk"):
        by_case[item.case_id].evidence.append(item)
    for section in by_case.values():
        item = section.open_item
        # paused_at comes with the deadlines work; a paused clock is never overdue.
        if item is not None and item.due_at and not getattr(item, "paused_at", None):
            if item.due_at < as_of:
                section.overdue = True
                section.days_overdue = (
                    timezone.localdate(as_of) - timezone.localdate(item.due_at)
                ).days


def _provenance(source: CatalogueSource | None) -> tuple[list[tuple[str, str]], str]:
    """The loaded catalogue's provenance notes, and PROVENANCE.md if the shipped one is loaded."""
    if source is None:
        return [], ""
    notes = source.provenance_notes
    prose = [(key, str(notes[key])) for key in _PROVENANCE_KEYS if isinstance(notes.get(key), str)]
    shipped = settings.DEFAULT_PLAN_FILE
    provenance_file = ""
    if shipped.exists() and hashlib.sha256(shipped.read_bytes()).hexdigest() == source.plan_sha256:
        note = shipped.parent / "PROVENANCE.md"
        provenance_file = note.read_text(encoding="utf-8") if note.exists() else ""
    return prose, provenance_file


def report_data_collect(
    report: Report, *, as_of: datetime, on_progress: Callable[[int], None] | None = None
) -> ReportData:
    """Everything the report's template needs, read as of `as_of` (a fixed number of queries)."""
    measures_qs = Measure.objects.select_related(
        "aspect", "lead_department", "supervising_leader"
    ).order_by("aspect__position", "position", "code")
    if report.kind == ReportKind.COMPLETION:
        case = Case.objects.select_related(
            "current_step", "lead_department", "supervising_leader", "measure__aspect"
        ).get(pk=report.case_id)
        measure = measures_qs.get(pk=case.measure_id)
        sections = [MeasureSection(measure=measure, case=case)]
    else:
        if report.aspect_id:
            measures_qs = measures_qs.filter(aspect_id=report.aspect_id)
        measures = list(measures_qs)
        latest = _latest_cases(measures, report.organisation)
        sections = [MeasureSection(measure=m, case=latest.get(m.pk)) for m in measures]
    if on_progress:
        on_progress(15)
    _fill_sections(sections, as_of=as_of, excerpt=AUDIT_EXCERPT_LENGTH[report.kind])
    if on_progress:
        on_progress(30)
    # The same counts as the dashboard's (workflows.reports.figures), so web and PDF agree.
    steps = figures.step_counts([s.open_item for s in sections if s.open_item], as_of)
    source = CatalogueSource.objects.order_by("pk").first()
    notes, provenance_file = _provenance(source)
    return ReportData(
        report=report,
        source=source,
        as_of=as_of,
        generated_by=_display_name(report.requested_by)
        or _("Reformflow, automatically on completion"),
        sections=sections,
        aspect_bars=figures.aspect_bars([(s.measure, s.case) for s in sections]),
        on_time=steps.on_time,
        overdue=steps.overdue,
        no_deadline=steps.no_deadline,
        paused=steps.paused,
        provenance_notes=notes,
        provenance_file=provenance_file,
    )
