"""A case's timeline: each step from its opening to its end, against its due date, with
returns, extensions and pauses marked. One selector (`case_timeline`) feeds both the case
page and the completion PDF, drawn as the same server-side SVG (`timeline_svg`): no script,
so WeasyPrint prints exactly what the page shows. Two queries, whatever the case's length."""

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from workflows.models import Case, DeadlineChange, Outcome, WorkItem, WorkItemStatus
from workflows.models.deadlines import DeadlineChangeKind


@dataclass
class Pause:
    start: datetime
    end: datetime | None


@dataclass
class TimelineStep:
    item: WorkItem
    title: str
    opened: datetime
    ended: datetime | None
    due: datetime | None
    original_due: datetime | None
    returned: bool
    late: bool
    extensions: list[datetime] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)

    @property
    def extended(self) -> bool:
        return bool(self.extensions)


@dataclass
class Timeline:
    steps: list[TimelineStep]
    start: datetime
    end: datetime
    as_of: datetime


def case_timeline(
    case: Case,
    *,
    as_of: datetime | None = None,
    items: list[WorkItem] | None = None,
    changes: list[DeadlineChange] | None = None,
) -> Timeline | None:
    """The case's steps in order with their marks; None before any step opened. `items` (in
    opening order) and `changes` (by time) when the caller has read them already."""
    as_of = as_of or timezone.now()
    if items is None:
        items = list(
            WorkItem.objects.filter(case=case)
            .exclude(status=WorkItemStatus.CANCELED)
            .select_related("step")
            .order_by("created_at", "pk")
        )
    else:
        items = [i for i in items if i.status != WorkItemStatus.CANCELED]
    if not items:
        return None
    if changes is None:
        changes = list(DeadlineChange.objects.filter(work_item__case=case).order_by("at", "pk"))
    by_item: dict[int, list[DeadlineChange]] = {}
    for change in changes:
        by_item.setdefault(change.work_item_id, []).append(change)
    steps = []
    for item in items:
        step = TimelineStep(
            item=item,
            title=str(item.step.title),
            opened=item.created_at,
            ended=item.finished_at,
            due=item.due_at,
            original_due=item.original_due_at
            if item.original_due_at and item.original_due_at != item.due_at
            else None,
            returned=item.outcome == Outcome.RETURNED,
            late=bool(item.due_at and (item.finished_at or as_of) > item.due_at),
        )
        for change in by_item.get(item.pk, []):
            if change.kind == DeadlineChangeKind.EXTENDED:
                step.extensions.append(change.at)
            elif change.kind == DeadlineChangeKind.PAUSED:
                step.pauses.append(Pause(start=change.at, end=None))
            elif change.kind == DeadlineChangeKind.RESUMED and step.pauses:
                step.pauses[-1].end = change.at
        if item.paused_at and not step.pauses:
            step.pauses.append(Pause(start=item.paused_at, end=None))
        steps.append(step)
    moments = [as_of]
    for step in steps:
        moments += [m for m in (step.opened, step.ended, step.due, step.original_due) if m]
    start = min(moments)
    end = max(moments)
    if end - start < timedelta(days=1):
        end = start + timedelta(days=1)
    return Timeline(steps=steps, start=start, end=end, as_of=as_of)


# --------------------------------------------------------------------------- drawing

_LABEL = 190
_PLOT = 520
_ROW = 30
_TOP = 24
_COLOURS = {
    "done": "#3949ab",
    "open": "#7986cb",
    "late": "#c62828",
    "returned": "#ef6c00",
    "pause": "#9e9e9e",
    "due": "#111111",
}


def _short(text: str, limit: int = 26) -> str:
    """The label cut to fit its column: a wide (CJK) character takes two places."""
    used = 0
    for i, char in enumerate(text):
        used += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used > limit:
            return text[: max(i - 1, 1)] + "…"
    return text


def _day(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT")


def step_sentence(step: TimelineStep) -> str:
    """The step in words: the SVG's text alternative, one sentence per step."""
    parts = [_("%(step)s: opened %(opened)s") % {"step": step.title, "opened": _day(step.opened)}]
    if step.due:
        parts.append(_("due %(due)s") % {"due": _day(step.due)})
    if step.original_due:
        parts.append(_("extended from %(due)s") % {"due": _day(step.original_due)})
    if step.pauses:
        n = len(step.pauses)
        parts.append(ngettext("paused once", "paused %(n)s times", n) % {"n": n})
    if step.ended:
        parts.append(_("finished %(when)s") % {"when": _day(step.ended)})
    else:
        parts.append(_("still open"))
    if step.returned:
        parts.append(_("returned for rework"))
    if step.late:
        parts.append(_("past its due date"))
    return ", ".join(parts) + "."


def timeline_svg(timeline: Timeline | None) -> SafeString:
    """The timeline drawn as SVG (the same on the page and in the PDF)."""
    if timeline is None:
        return SafeString("")
    span = (timeline.end - timeline.start).total_seconds()

    def x(moment: datetime) -> float:
        return round(_LABEL + _PLOT * (moment - timeline.start).total_seconds() / span, 1)

    parts = []
    for index, step in enumerate(timeline.steps):
        y = _TOP + index * _ROW
        end = step.ended or timeline.as_of
        colour = (
            _COLOURS["returned"]
            if step.returned
            else _COLOURS["late"]
            if step.late
            else _COLOURS["done"]
            if step.ended
            else _COLOURS["open"]
        )
        parts.append(
            format_html(
                '<g class="rf-tl-step" data-returned="{}" data-late="{}" data-extended="{}"'
                ' data-paused="{}"><text x="{}" y="{}" text-anchor="end" font-size="11">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="14" rx="2" fill="{}">'
                "<title>{}</title></rect>",
                int(step.returned),
                int(step.late),
                int(step.extended),
                int(bool(step.pauses)),
                _LABEL - 6,
                y + 11,
                _short(step.title),
                x(step.opened),
                y,
                max(2.0, round(x(end) - x(step.opened), 1)),
                colour,
                step_sentence(step),
            )
        )
        for pause in step.pauses:
            p_end = pause.end or end
            parts.append(
                format_html(
                    '<rect class="rf-tl-pause" x="{}" y="{}" width="{}" height="14"'
                    ' fill="{}" fill-opacity="0.85"/>',
                    x(pause.start),
                    y,
                    max(2.0, round(x(p_end) - x(pause.start), 1)),
                    _COLOURS["pause"],
                )
            )
        if step.original_due:
            parts.append(
                format_html(
                    '<line class="rf-tl-original-due" x1="{}" y1="{}" x2="{}" y2="{}"'
                    ' stroke="#757575" stroke-width="2" stroke-dasharray="3 2"/>'
                    '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#757575" stroke-width="1"/>',
                    x(step.original_due),
                    y - 3,
                    x(step.original_due),
                    y + 17,
                    x(step.original_due),
                    y + 7,
                    x(step.due),
                    y + 7,
                )
            )
        if step.due:
            parts.append(
                format_html(
                    '<line class="rf-tl-due" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"'
                    ' stroke-width="3"/>',
                    x(step.due),
                    y - 4,
                    x(step.due),
                    y + 18,
                    _COLOURS["due"],
                )
            )
        if step.returned:
            parts.append(
                format_html(
                    '<text class="rf-tl-returned" x="{}" y="{}" font-size="12" fill="{}">↩</text>',
                    x(end) + 3,
                    y + 12,
                    _COLOURS["returned"],
                )
            )
        parts.append(SafeString("</g>"))
    height = _TOP + len(timeline.steps) * _ROW + 40
    legend_y = height - 14
    legend = [
        (_COLOURS["done"], _("finished")),
        (_COLOURS["open"], _("open")),
        (_COLOURS["late"], _("past due")),
        (_COLOURS["returned"], _("returned")),
        (_COLOURS["pause"], _("paused")),
        (_COLOURS["due"], _("due date")),
    ]
    legend_parts = format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="{}" font-size="10">{}</text>',
        (
            (_LABEL - 180 + i * 90, legend_y - 9, colour, _LABEL - 166 + i * 90, legend_y, label)
            for i, (colour, label) in enumerate(legend)
        ),
    )
    width = _LABEL + _PLOT + 30
    axis = format_html(
        '<text x="{}" y="12" font-size="10">{}</text>'
        '<text x="{}" y="12" font-size="10" text-anchor="end">{}</text>'
        '<line x1="{}" y1="16" x2="{}" y2="{}" stroke="#1565c0" stroke-dasharray="2 2"/>'
        '<text x="{}" y="{}" font-size="10" fill="#1565c0">{}</text>',
        _LABEL,
        _day(timeline.start),
        _LABEL + _PLOT,
        _day(timeline.end),
        x(timeline.as_of),
        x(timeline.as_of),
        height - 28,
        x(timeline.as_of) - 10,
        height - 24,
        _("today"),
    )
    description = " ".join(step_sentence(step) for step in timeline.steps)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="rf-timeline-chart" role="img"'
        ' viewBox="0 0 {} {}" width="{}" height="{}" aria-labelledby="rf-tl-title rf-tl-desc">'
        '<title id="rf-tl-title">{}</title><desc id="rf-tl-desc">{}</desc>{}{}{}</svg>',
        width,
        height,
        width,
        height,
        _("Steps against their due dates"),
        description,
        axis,
        format_html_join("", "{}", ((p,) for p in parts)),
        legend_parts,
    )
