"""The programme ledger (台账): one row per measure in the layout of an official ledger, exported
as XLSX (openpyxl) and DOCX (python-docx).

A federation's ledger shows its own cases: a province's child case never stands in for the
national case of the same measure. A ledger spanning federations (`below`) has one row per
case. Every row names its federation."""

import io
from dataclasses import dataclass

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from workflows.common import reach as access
from workflows.common.calendar import local_date
from workflows.common.wording import when
from workflows.models import (
    Case,
    CycleStatus,
    FeedbackCycle,
    Light,
    Measure,
    OrderStatus,
    Organisation,
    SupervisionOrder,
    WorkItem,
    WorkItemStatus,
)
from workflows.reports.exports import cell_value

_LIGHT_TEXT = {Light.GREEN: "green 绿", Light.YELLOW: "yellow 黄", Light.RED: "red 红"}


@dataclass
class LedgerRow:
    code: str
    measure: str
    lead: str
    partners: str
    target: str
    progress: str
    light: str
    issues: str
    next_steps: str
    federation: str = ""


def ledger_columns() -> list[str]:
    return [
        _("No."),
        _("Measure"),
        _("Lead department"),
        _("Partner departments"),
        _("Target"),
        _("Progress this cycle"),
        _("Traffic light (deadline / progress)"),
        _("Issues"),
        _("Next steps"),
        _("Federation"),
    ]


def _ledger_cases(user, organisation: Organisation, below: bool) -> list[Case]:
    """The cases the ledger shows: the latest visible case of each measure (the open one
    first) in the organisation, or, `below`, in each federation of its subtree, by path.
    "Latest" is picked in SQL (a window over the visible cases), so only the rows shown are
    read."""
    visible = access.case_list_visible(user)
    if below:
        visible = visible.filter(organisation__path__startswith=organisation.path)
    else:
        visible = visible.filter(organisation=organisation)
    rank = Window(
        RowNumber(),
        partition_by=[F("organisation_id"), F("measure_id")],
        order_by=[F("is_open").desc(), F("created").desc(), F("pk").desc()],
    )
    latest = (
        visible.annotate(rank=rank)
        .filter(rank=1)
        .select_related("lead_department", "light", "organisation")
        .order_by("organisation__path", "measure_id")
    )
    return list(latest)


def ledger_rows(user, *, organisation: Organisation | None = None, below=False) -> list[LedgerRow]:
    """The ledger's rows (bounded queries): one per measure for the organisation (by default
    the user's own) with its latest case the user may see, or with `below` one per case the
    user may see in the organisation and the federations below it."""
    organisation = organisation or access.organisation_default(user)
    shown = _ledger_cases(user, organisation, below)
    cases = {c.pk: c for c in shown}
    case_ids = list(cases)
    # Each case's latest reported cycle, picked in SQL as the cases are.
    latest_report = Window(
        RowNumber(),
        partition_by=[F("case_id")],
        order_by=[F("period_start").desc(), F("pk").desc()],
    )
    reports = {
        cycle.case_id: cycle
        for cycle in FeedbackCycle.objects.filter(case__in=case_ids, report__isnull=False)
        .annotate(rank=latest_report)
        .filter(rank=1)
        .select_related("report")
    }
    missed: dict[int, list] = {}
    for case_id, start in (
        FeedbackCycle.objects.filter(case__in=case_ids, status=CycleStatus.MISSED)
        .order_by("period_start")
        .values_list("case_id", "period_start")
    ):
        missed.setdefault(case_id, []).append(start)
    orders: dict[int, list[SupervisionOrder]] = {}
    for order in SupervisionOrder.objects.filter(case__in=case_ids, status=OrderStatus.OPEN):
        orders.setdefault(order.case_id, []).append(order)
    open_items = {
        i.case_id: i
        for i in WorkItem.objects.filter(case__in=case_ids, status=WorkItemStatus.OPEN)
        .select_related("step")
        .order_by("created_at")
    }
    now = timezone.now()
    measures = Measure.objects.select_related("lead_department").prefetch_related(
        "partner_departments"
    )
    by_measure: dict[int, list[Case]] = {}
    for case in shown:
        by_measure.setdefault(case.measure_id, []).append(case)
    rows = []
    for measure in measures.order_by("aspect__position", "position"):
        # Below: only the measures with cases. Otherwise every measure, launched or not.
        for case in by_measure.get(measure.pk) or ([] if below else [None]):
            rows.append(
                _ledger_row(
                    measure,
                    case,
                    federation=(case.organisation if case and below else organisation).title,
                    cycle=reports.get(case.pk) if case else None,
                    item=open_items.get(case.pk) if case else None,
                    missed=missed.get(case.pk, []) if case else [],
                    orders=orders.get(case.pk, []) if case else [],
                    now=now,
                )
            )
    return rows


def _ledger_row(measure, case, *, federation, cycle, item, missed, orders, now) -> LedgerRow:
    light = getattr(case, "light", None) if case else None
    issues = []
    if case:
        issues += [
            _("missed report for the period from %(start)s") % {"start": when(start)}
            for start in missed
        ]
        issues += [
            _("open %(colour)s supervision order") % {"colour": order.get_colour_display()}
            for order in orders
        ]
        if item is not None and item.due_at and item.due_at < now:
            issues.append(_("“%(step)s” overdue") % {"step": item.step.title})
    return LedgerRow(
        code=measure.code,
        measure=measure.title,
        lead=measure.lead_department.title,
        partners="、".join(d.title for d in measure.partner_departments.all()),
        target=_("%(months)s months") % {"months": measure.target_months}
        + (f" · {measure.summary_en}" if measure.summary_en else ""),
        progress=(
            f"{cycle.report.percent}% · {cycle.report.note}"
            if cycle
            else (f"{case.percent_complete}%" if case else _("Not launched"))
        ),
        light=(f"{_LIGHT_TEXT[light.deadline]} / {_LIGHT_TEXT[light.progress]}" if light else "—"),
        issues="；".join(issues) or "—",
        next_steps=(
            f"{item.step.title} ({_('due')} {when(local_date(item.due_at))})"
            if item is not None and item.due_at
            else "—"
        ),
        federation=federation,
    )


def _values(row: LedgerRow) -> list[str]:
    return [
        row.code,
        row.measure,
        row.lead,
        row.partners,
        row.target,
        row.progress,
        row.light,
        row.issues,
        row.next_steps,
        row.federation,
    ]


def ledger_xlsx(rows: list[LedgerRow], *, title: str) -> bytes:
    """The ledger as an XLSX workbook: a title row, a header row, one row per measure."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(ledger_columns())
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([cell_value(value) for value in _values(row)])
    widths = (6, 40, 18, 24, 40, 40, 18, 30, 30, 24)
    for column, width in zip("ABCDEFGHIJ", widths, strict=True):
        sheet.column_dimensions[column].width = width
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ledger_docx(rows: list[LedgerRow], *, title: str) -> bytes:
    """The ledger as a DOCX document: a heading and one table, landscape."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    document.add_heading(title, level=1)
    table = document.add_table(rows=1, cols=len(ledger_columns()))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ledger_columns(), strict=True):
        cell.text = text
    for row in rows:
        for cell, text in zip(table.add_row().cells, _values(row), strict=True):
            cell.text = cell_value(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
