"""The programme ledger (台账): one row per measure in the layout of an official ledger, exported
as XLSX (openpyxl) and DOCX (python-docx).

A federation's ledger shows its own cases: a province's child case never stands in for the
national case of the same measure. A ledger spanning federations (`below`) has one row per
measure and federation, LEDGER_FEDERATIONS_PER_FILE federations to a file. Every row names
its federation."""

import io
import re
from dataclasses import dataclass
from html import escape

from django.db.models import F, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Process

from workflows.common import reach as access
from workflows.common.bounds import InputRejected
from workflows.common.calendar import local_date
from workflows.common.wording import when
from workflows.models import (
    CycleStatus,
    FeedbackCycle,
    Light,
    Measure,
    OrderColour,
    OrderStatus,
    Organisation,
    SupervisionOrder,
    WorkItem,
    WorkItemStatus,
)
from workflows.models.organisation import bilingual
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


# A ledger `below` a province or the nation spans hundreds of federations: one file holds
# this many (about 30 rows each), and a note in it says which and how to ask for the others.
# Five, not ten: a file's cost is per row (reading, wording, writing cells), so this bounds
# a request's time (issue 20: ten took 532-734 ms at p50 under load).
LEDGER_FEDERATIONS_PER_FILE = 5


@dataclass
class Ledger:
    rows: list[LedgerRow]
    # Which federations this file holds, when `below` spans more than one file; else "".
    note: str = ""


def _ledger_federations(organisation: Organisation, below: bool, page) -> tuple[dict, str]:
    """({organisation id: title} in path order, note) of the federations this file shows: the
    organisation alone, or `below` one file's worth of its subtree (`page`, from 1)."""
    page = _page_number(page)  # checked even where one file holds everything: a bad one is a 400
    if not below:
        return {organisation.pk: organisation.title}, ""
    subtree = Organisation.objects.filter(path__startswith=organisation.path)
    total = subtree.count()  # the federations, not their cases: a few thousand at most
    pages = max(1, -(-total // LEDGER_FEDERATIONS_PER_FILE))
    if page > pages:
        raise InputRejected("page", _("there are %(pages)d pages.") % {"pages": pages})
    first = (page - 1) * LEDGER_FEDERATIONS_PER_FILE
    shown = {
        pk: bilingual(title_en, title_zh)
        for pk, title_en, title_zh in subtree.order_by("path").values_list(
            "pk", "title_en", "title_zh"
        )[first : first + LEDGER_FEDERATIONS_PER_FILE]
    }
    note = ""
    if pages > 1:
        note = _(
            "This file lists federations %(first)d to %(last)d of the %(total)d in and below "
            "%(federation)s (%(size)d to a file). Add page=1 to page=%(pages)d to the address "
            "for the others."
        ) % {
            "first": first + 1,
            "last": first + len(shown),
            "total": total,
            "federation": organisation.title,
            "size": LEDGER_FEDERATIONS_PER_FILE,
            "pages": pages,
        }
    return shown, note


def _page_number(page) -> int:
    if page is None or page == "":
        return 1
    if isinstance(page, int):
        number = page
    elif str(page).isdigit() and len(str(page)) < 10:
        number = int(page)
    else:
        raise InputRejected("page", _("expected a page number, got %(value)r.") % {"value": page})
    if number < 1:
        raise InputRejected("page", _("expected a page number, got %(value)r.") % {"value": page})
    return number


def _ledger_cases(user, federations: dict) -> list[dict]:
    """The cases the ledger shows, as plain values: the latest visible case of each measure
    (the open one first) in each of the federations, in their order. "Latest" is picked in
    SQL (a window over the federations' visible cases), so only the rows shown are read."""
    # `created` lives on viewflow's process table: read per shown case by its key, as joining
    # the table made PostgreSQL hash all 90,000 processes (47 ms against 1 ms).
    created = Subquery(Process.objects.filter(pk=OuterRef("pk")).values("created")[:1])
    rank = Window(
        RowNumber(),
        partition_by=[F("organisation_id"), F("measure_id")],
        order_by=[F("is_open").desc(), created.desc(), F("pk").desc()],
    )
    latest = (
        access.case_list_visible(user)
        .filter(organisation__in=list(federations))
        .annotate(rank=rank)
        .filter(rank=1)
        .order_by()
        .values(
            "pk",
            "measure_id",
            "organisation_id",
            "percent_complete",
            "light__deadline",
            "light__progress",
        )
    )
    position = {pk: index for index, pk in enumerate(federations)}
    return sorted(latest, key=lambda c: (position[c["organisation_id"]], c["measure_id"]))


def ledger_rows(user, *, organisation: Organisation | None = None, below=False) -> list[LedgerRow]:
    """The rows of the ledger's first file (ledger_page)."""
    return ledger_page(user, organisation=organisation, below=below).rows


def ledger_page(
    user, *, organisation: Organisation | None = None, below=False, page: int | str | None = 1
) -> Ledger:
    """One ledger file (bounded queries and rows): one row per measure for the organisation
    (by default the user's own) with its latest case the user may see, or with `below` one
    row per measure with such a case in each federation of one file's worth of its subtree
    (LEDGER_FEDERATIONS_PER_FILE, `page` from 1), with a note saying which. InputRejected
    for a page out of range."""
    organisation = organisation or access.organisation_default(user)
    federations, note = _ledger_federations(organisation, below, page)
    shown = _ledger_cases(user, federations)
    case_ids = [c["pk"] for c in shown]
    # Each case's latest reported cycle, picked in SQL as the cases are.
    latest_report = Window(
        RowNumber(),
        partition_by=[F("case_id")],
        order_by=[F("period_start").desc(), F("pk").desc()],
    )
    reports = {
        case_id: (percent, report_note)
        for case_id, percent, report_note in FeedbackCycle.objects.filter(
            case__in=case_ids, report__isnull=False
        )
        .annotate(rank=latest_report)
        .filter(rank=1)
        .values_list("case_id", "report__percent", "report__note")
    }
    # The missed cycles, picked here from the shown cases' cycles (a year's each at most):
    # filtered by status in SQL, PostgreSQL read every missed cycle in the nation instead.
    missed: dict[int, list] = {}
    for case_id, status, start in (
        FeedbackCycle.objects.filter(case__in=case_ids)
        .order_by("period_start")
        .values_list("case_id", "status", "period_start")
    ):
        if status == CycleStatus.MISSED:
            missed.setdefault(case_id, []).append(start)
    orders: dict[int, list[str]] = {}
    for case_id, colour in (
        SupervisionOrder.objects.filter(case__in=case_ids, status=OrderStatus.OPEN)
        .order_by("issued_at", "pk")
        .values_list("case_id", "colour")
    ):
        orders.setdefault(case_id, []).append(OrderColour(colour).label)
    # The latest open task of each case (the last one written wins).
    open_items = {
        case_id: (due_at, bilingual(title_en, title_zh))
        for case_id, due_at, title_en, title_zh in WorkItem.objects.filter(
            case__in=case_ids, status=WorkItemStatus.OPEN
        )
        .order_by("created_at")
        .values_list("case_id", "due_at", "step__title_en", "step__title_zh")
    }
    now = timezone.now()
    measures = Measure.objects.select_related("lead_department").prefetch_related(
        "partner_departments"
    )
    by_measure: dict[int, list[dict]] = {}
    for case in shown:
        by_measure.setdefault(case["measure_id"], []).append(case)
    rows = []
    words = _RowWords()
    for measure in measures.order_by("aspect__position", "position"):
        # Below: only the measures with cases. Otherwise every measure, launched or not.
        cases = by_measure.get(measure.pk) or ([] if below else [None])
        if not cases:
            continue
        columns = _measure_columns(measure)
        for case in cases:
            pk = case["pk"] if case else None
            rows.append(
                _ledger_row(
                    columns,
                    case,
                    federation=federations[case["organisation_id"] if case else organisation.pk],
                    report=reports.get(pk),
                    item=open_items.get(pk),
                    missed=missed.get(pk, []),
                    orders=orders.get(pk, []),
                    now=now,
                    words=words,
                )
            )
    return Ledger(rows, note)


def _measure_columns(measure) -> tuple[str, str, str, str, str]:
    """(code, title, lead, partners, target) of a measure: the same on each federation's row,
    so worked out once per measure."""
    return (
        measure.code,
        measure.title,
        measure.lead_department.title,
        "、".join(d.title for d in measure.partner_departments.all()),
        _("%(months)s months") % {"months": measure.target_months}
        + (f" · {measure.summary_en}" if measure.summary_en else ""),
    )


class _RowWords:
    """The words a file's rows repeat (dates, lights, fixed phrases), each worked out once in
    the active language."""

    def __init__(self):
        self.dates: dict = {}
        self.due = _("due")
        self.not_launched = _("Not launched")

    def when(self, value) -> str:
        if value not in self.dates:
            self.dates[value] = when(value)
        return self.dates[value]


def _ledger_row(
    columns, case, *, federation, report, item, missed, orders, now, words
) -> LedgerRow:
    """One row; `columns` as _measure_columns gives them, `case` as _ledger_cases gives it,
    `report` (percent, note), `item` (due_at, step title) and `orders` (colours) as
    ledger_page reads them."""
    light = (case["light__deadline"], case["light__progress"]) if case else (None, None)
    issues = []
    if case:
        issues += [
            _("missed report for the period from %(start)s") % {"start": words.when(start)}
            for start in missed
        ]
        issues += [_("open %(colour)s supervision order") % {"colour": colour} for colour in orders]
        if item is not None and item[0] and item[0] < now:
            issues.append(_("“%(step)s” overdue") % {"step": item[1]})
    code, measure, lead, partners, target = columns
    return LedgerRow(
        code=code,
        measure=measure,
        lead=lead,
        partners=partners,
        target=target,
        progress=(
            f"{report[0]}% · {report[1]}"
            if report
            else (f"{case['percent_complete']}%" if case else words.not_launched)
        ),
        light=(
            f"{_LIGHT_TEXT[light[0]]} / {_LIGHT_TEXT[light[1]]}" if light[0] is not None else "—"
        ),
        issues="；".join(issues) or "—",
        next_steps=(
            f"{item[1]} ({words.due} {words.when(local_date(item[0]))})"
            if item is not None and item[0]
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


def ledger_xlsx(rows: list[LedgerRow], *, title: str, note: str = "") -> bytes:
    """The ledger as an XLSX workbook: a title row, the note's row if any, a header row, one
    row per measure, wrapped and aligned to the top."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    # Written row by row (write-only); each cell's style is copied from one styled cell, as
    # setting it per cell costs a style lookup each.
    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    widths = (6, 40, 18, 24, 40, 40, 18, 30, 30, 24)
    for column, width in zip("ABCDEFGHIJ", widths, strict=True):
        sheet.column_dimensions[column].width = width

    def styled(value, **style):
        cell = WriteOnlyCell(sheet, value=value)
        for name, setting in style.items():
            setattr(cell, name, setting)
        return cell

    sheet.append([styled(title, font=Font(bold=True, size=14))])
    if note:
        sheet.append([styled(note, font=Font(italic=True))])
    wrapped = Alignment(wrap_text=True, vertical="top")
    sheet.append(
        [styled(text, font=Font(bold=True), alignment=wrapped) for text in ledger_columns()]
    )
    # One style for every body cell, shared, not copied: the values are all text, so openpyxl
    # never changes a cell's number format (the one in-place change it makes to a style).
    body = styled(None, alignment=wrapped)._style
    for row in rows:
        cells = []
        for value in _values(row):
            cell = WriteOnlyCell(sheet, value=cell_value(value))
            cell._style = body
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ledger_docx(rows: list[LedgerRow], *, title: str, note: str = "") -> bytes:
    """The ledger as a DOCX document: a heading, the note if any, and one table, landscape."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    from docx.shared import Cm

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    document.add_heading(title, level=1)
    if note:
        document.add_paragraph(note).runs[0].italic = True
    table = document.add_table(rows=1, cols=len(ledger_columns()))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ledger_columns(), strict=True):
        cell.text = text
    # The rows' XML is written as one string and parsed once: python-docx's add_row and
    # cell.text build it element by element, ~5 ms a row.
    widths = [column.w for column in table._tbl.tblGrid.gridCol_lst]
    body = "".join(_docx_row(widths, [cell_value(text) for text in _values(row)]) for row in rows)
    if body:
        table._tbl.extend(parse_xml(f"<w:tbl {nsdecls('w')}>{body}</w:tbl>"))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


_DOCX_BREAKS = re.compile(r"([\t\r\n])")


def _docx_row(widths: list, texts: list[str]) -> str:
    """A table row's XML as python-docx writes it for cell.text: per cell its width and one
    run, a tab as <w:tab/>, a line break as <w:br/>."""
    cells = []
    for width, text in zip(widths, texts, strict=True):
        run = []
        for part in _DOCX_BREAKS.split(text):
            if part == "\t":
                run.append("<w:tab/>")
            elif part in ("\r", "\n"):
                run.append("<w:br/>")
            elif part:
                space = ' xml:space="preserve"' if part != part.strip() else ""
                run.append(f"<w:t{space}>{escape(part, quote=False)}</w:t>")
        cells.append(
            f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>'
            f"<w:p><w:r>{''.join(run)}</w:r></w:p></w:tc>"
        )
    return f"<w:tr>{''.join(cells)}</w:tr>"
