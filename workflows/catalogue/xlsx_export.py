"""Writing the catalogue as an Excel workbook (台账): what the database holds, one sheet per
kind of row, bilingual headers, a frozen header row and readable widths.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from workflows.catalogue.reading import CatalogueError
from workflows.catalogue.xlsx_layout import (
    _FIRST_META_KEYS,
    ASPECTS,
    DEPARTMENTS,
    KEYS,
    LEADER_POSTS,
    LEVELS,
    LINES,
    MEASURES,
    ORGANISATION,
    PLAN,
    README,
    STEP_ROLES,
    STEPS,
    Column,
    Sheet,
)
from workflows.models import (
    Aspect,
    CatalogueSource,
    LeaderRole,
    Measure,
    Organisation,
    OrganisationLevel,
    StepRole,
    StepTemplate,
)


def _meta_rows(meta: dict) -> list[dict]:
    ordered = [k for k in _FIRST_META_KEYS if k in meta] + [
        k for k in meta if k not in _FIRST_META_KEYS
    ]
    rows = []
    for key in ordered:
        value = meta[key]
        if isinstance(value, str) and value:
            rows.append({"key": key, "value": value, "format": "text"})
        else:
            rows.append(
                {"key": key, "value": json.dumps(value, ensure_ascii=False), "format": "json"}
            )
    return rows


def _catalogue_rows(source: CatalogueSource) -> dict[Sheet, list[dict]]:
    """Every sheet's rows, read from the database in a fixed number of queries."""
    national = Organisation.national()
    measures = (
        Measure.objects.select_related("aspect", "lead_department", "supervising_leader")
        .prefetch_related("partner_departments")
        .order_by("aspect__position", "aspect__code", "position", "code")
    )
    steps = StepTemplate.objects.select_related("measure", "role").order_by(
        "measure__aspect__position", "measure__aspect__code", "measure__position", "position"
    )
    leader_posts = (
        LeaderRole.objects.filter(organisation=national)
        .select_related("reports_to")
        .prefetch_related("supervises")
        .order_by("pk")
    )
    return {
        ASPECTS: [
            {
                "code": a.code,
                "title_en": a.title_en,
                "title_zh": a.title_zh,
                "title_zh_status": a.title_zh_status,
                "provenance": a.provenance,
            }
            for a in Aspect.objects.order_by("position", "code")
        ],
        MEASURES: [
            {
                "aspect": m.aspect.code,
                "code": m.code,
                "title_en": m.title_en,
                "title_zh": m.title_zh,
                "lead_department": m.lead_department.key,
                "partner_departments": sorted(d.key for d in m.partner_departments.all()),
                "supervising_leader": m.supervising_leader.key,
                "applies_to_levels": list(m.applies_to_levels or []),
                "target_months": m.target_months,
                "provenance": m.provenance,
                "summary_en": m.summary_en,
                "actions": list(m.actions or []),
                "basis": m.basis,
            }
            for m in measures
        ],
        STEPS: [
            {
                "measure": s.measure.code,
                "key": s.key,
                "title_en": s.title_en,
                "title_zh": s.title_zh,
                "kind": s.kind,
                "role": s.role.key,
                "working_days": s.working_days,
            }
            for s in steps
        ],
        DEPARTMENTS: [
            {
                "key": d.key,
                "title_en": d.title_en,
                "title_zh": d.title_zh,
                "name_check": d.name_check,
            }
            for d in national.departments.order_by("pk")
        ],
        LEADER_POSTS: [
            {
                "key": r.key,
                "title_en": r.title_en,
                "title_zh": r.title_zh,
                "name": r.person_name,
                "assignment": r.assignment,
                "supervises": sorted(d.key for d in r.supervises.all()),
                "reports_to": r.reports_to.key if r.reports_to else "",
            }
            for r in leader_posts
        ],
        STEP_ROLES: [
            {
                "key": r.key,
                "title_en": r.title_en,
                "title_zh": r.title_zh,
                "department": r.department_key,
                "escalates_to": r.escalates_to,
            }
            for r in StepRole.objects.order_by("pk")
        ],
        LEVELS: [
            {"key": v.key, "title_en": v.title_en, "title_zh": v.title_zh, "rank": v.rank}
            for v in OrganisationLevel.objects.order_by("rank")
        ],
        PLAN: _meta_rows(source.plan_meta or {}),
        ORGANISATION: _meta_rows(source.organisation_meta or {}),
    }


_README_LINES = (
    ("Reformflow catalogue", "Reformflow 改革举措目录"),
    (
        "Edit the sheets, keep the header rows, and load the file again: python manage.py "
        "load_catalogue FILE.xlsx, or Admin → Catalogue sources → Import from Excel.",
        "编辑各工作表（保留表头行），然后重新导入：python manage.py load_catalogue 文件.xlsx，"
        "或在管理后台“目录来源”中选择“从 Excel 导入”。",
    ),
    (
        "Lists (partner departments, levels, supervised departments) are keys separated by "
        "commas; actions are one a line. A bad file changes nothing: the error names the "
        "sheet, the row and the column.",
        "列表（配合部门、适用层级、分管部门）用逗号分隔键；具体举措每行一项。文件有误时不作任何"
        "更改，错误信息会指出工作表、行和列。",
    ),
    (
        "Steps follow each other in the order of their rows; so do measures within an aspect.",
        "步骤按行的先后顺序排列；同一方面内的举措也是如此。",
    ),
)


def _cell_value(value: Any, column: Column) -> Any:
    if column.kind == KEYS:
        return ", ".join(value) or None
    if column.kind == LINES:
        return "\n".join(value) or None
    if value == "" or value is None:
        return None
    return value


def _write_sheet(workbook, sheet: Sheet, rows: list[dict]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    ws = workbook.create_sheet(sheet.title)
    ws.append([column.header for column in sheet.columns])
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    wrap = Alignment(wrap_text=True, vertical="top")
    for number, row in enumerate(rows, start=2):
        for index, column in enumerate(sheet.columns, start=1):
            value = _cell_value(row.get(column.key), column)
            cell = ws.cell(row=number, column=index, value=value)
            if isinstance(value, str):
                # A code such as "1.10" stays text, and "=…" is never read as a formula.
                cell.data_type = "s"
                cell.number_format = "@"
            cell.alignment = wrap
    for index, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = column.width
        if column.choices:
            choice = DataValidation(
                type="list", formula1='"' + ",".join(column.choices) + '"', allow_blank=True
            )
            choice.add(f"{letter}2:{letter}{max(len(rows) + 1, 2) + 500}")
            ws.add_data_validation(choice)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{len(rows) + 1}"


def catalogue_export() -> bytes:
    """The catalogue in the database as an XLSX workbook in the layout `load_catalogue` reads;
    raises CatalogueError when no catalogue has been loaded."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    source = CatalogueSource.objects.order_by("pk").first()
    if source is None:
        raise CatalogueError("no catalogue has been loaded yet", file=Path("catalogue.xlsx"))
    workbook = Workbook()
    readme = workbook.active
    readme.title = README
    for en, zh in _README_LINES:
        readme.append([en])
        readme.append([zh])
        readme.append([])
    readme["A1"].font = Font(bold=True, size=14)
    readme["A2"].font = Font(bold=True, size=14)
    readme.column_dimensions["A"].width = 120
    for sheet, rows in _catalogue_rows(source).items():
        _write_sheet(workbook, sheet, rows)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
