"""The catalogue as an Excel workbook (台账) that an office can read and edit, and back.

`catalogue_export` writes what the database holds: one sheet each for the aspects, measures,
steps, departments, leader posts, step roles and levels, and the plan's and the organisation's
notes, with bilingual headers, a frozen header row and readable column widths.
`catalogue_load_workbook` reads the same layout into the very structure the YAML loader builds
(mappings and lists that remember where each value came from) and hands it to the same checks
and the same transaction (catalogue.py), so a bad workbook changes nothing and every complaint
names the sheet, the row and the column.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from workflows.catalogue import (
    CatalogueError,
    LoadResult,
    _Mapping,
    _parse_organisation,
    _parse_plan,
    _Sequence,
    catalogue_apply,
)
from workflows.models import (
    Aspect,
    CatalogueSource,
    LeaderRole,
    Measure,
    Organisation,
    OrganisationLevel,
    StepKind,
    StepRole,
    StepTemplate,
)
from workflows.models.catalogue import Provenance

TEXT, KEY, KEYS, LINES, NUMBER = "text", "key", "keys", "lines", "number"


@dataclass(frozen=True)
class Column:
    key: str  # the YAML field it holds
    en: str
    zh: str
    width: int
    kind: str = TEXT
    choices: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        return f"{self.en} / {self.zh}"


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: tuple[Column, ...]


def _titles(width_en: int = 40, width_zh: int = 24) -> tuple[Column, Column]:
    return (
        Column("title_en", "Title (English)", "标题（英文）", width_en),
        Column("title_zh", "Title (Chinese)", "标题（中文）", width_zh),
    )


PROVENANCE = Column(
    "provenance", "Provenance", "来源", 14, choices=tuple(str(v) for v in Provenance.values)
)
ASPECTS = Sheet(
    "Aspects 方面",
    (
        Column("code", "Code", "编号", 8, KEY),
        *_titles(),
        Column("title_zh_status", "Chinese title status", "中文标题状态", 14),
        PROVENANCE,
    ),
)
MEASURES = Sheet(
    "Measures 举措",
    (
        Column("aspect", "Aspect", "所属方面", 8, KEY),
        Column("code", "Code", "编号", 8, KEY),
        *_titles(48, 30),
        Column("lead_department", "Lead department", "牵头部门", 22, KEY),
        Column("partner_departments", "Partner departments", "配合部门", 30, KEYS),
        Column("supervising_leader", "Supervising leader post", "分管领导岗位", 26, KEY),
        Column("applies_to_levels", "Applies to levels", "适用层级", 30, KEYS),
        Column("target_months", "Target (months)", "目标月数", 10, NUMBER),
        PROVENANCE,
        Column("summary_en", "Summary (English)", "摘要（英文）", 50),
        Column("actions", "Actions (one a line)", "具体举措（每行一项）", 60, LINES),
        Column("basis", "Source excerpt", "依据原文", 60),
    ),
)
STEPS = Sheet(
    "Steps 步骤",
    (
        Column("measure", "Measure", "所属举措", 8, KEY),
        Column("key", "Key", "键", 26, KEY),
        *_titles(36, 20),
        Column("kind", "Kind", "类型", 12, choices=tuple(str(v) for v in StepKind.values)),
        Column("role", "Step role", "步骤角色", 24, KEY),
        Column("working_days", "Working days", "工作日", 10, NUMBER),
    ),
)
DEPARTMENTS = Sheet(
    "Departments 部门",
    (
        Column("key", "Key", "键", 26, KEY),
        *_titles(44, 24),
        Column("name_check", "Name checked", "名称核实", 12),
    ),
)
LEADER_POSTS = Sheet(
    "Leader posts 领导岗位",
    (
        Column("key", "Key", "键", 30, KEY),
        *_titles(56, 36),
        Column("name", "Holder (placeholder)", "姓名（占位）", 18),
        Column("assignment", "Assignment", "分工依据", 14),
        Column("supervises", "Supervises departments", "分管部门", 36, KEYS),
        Column("reports_to", "Reports to", "上级岗位", 24, KEY),
    ),
)
STEP_ROLES = Sheet(
    "Step roles 步骤角色",
    (
        Column("key", "Key", "键", 30, KEY),
        *_titles(40, 24),
        Column("department", "Department", "部门", 24, KEY),
        Column("escalates_to", "Escalates to", "升级至", 30, KEY),
    ),
)
LEVELS = Sheet(
    "Levels 层级",
    (
        Column("key", "Key", "键", 20, KEY),
        *_titles(56, 36),
        Column("rank", "Rank", "级次", 8, NUMBER),
    ),
)
_NOTES = (
    Column("key", "Key", "键", 26, KEY),
    Column("value", "Value", "值", 90),
    Column("format", "Format", "格式", 10, KEY, choices=("text", "json")),
)
PLAN = Sheet("Plan 方案", _NOTES)
ORGANISATION = Sheet("Organisation 组织", _NOTES)
SHEETS = (
    ASPECTS,
    MEASURES,
    STEPS,
    DEPARTMENTS,
    LEADER_POSTS,
    STEP_ROLES,
    LEVELS,
    PLAN,
    ORGANISATION,
)
README = "Read me 说明"
_FIRST_META_KEYS = ("plan_title_en", "plan_title_zh", "plan_title_zh_status", "issuer", "issued_on")


@dataclass(frozen=True)
class Cell:
    """Where a value sits in the workbook; catalogue errors print it."""

    sheet: str | None
    row: int | None = None
    column: str | None = None
    letter: str | None = None

    def __str__(self) -> str:
        if self.sheet is None:
            return "the workbook"
        parts = [f"sheet '{self.sheet}'"]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.letter} ({self.column})")
        return ", ".join(parts)


# --------------------------------------------------------------------------- export


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


# --------------------------------------------------------------------------- reading

_LIST_SEPARATORS = re.compile(r"[,，、;；\n]+")


def _normal(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().casefold()


def _names(sheet_or_column) -> set[str]:
    """What a sheet title or a header may be written as: whole, either language, or the key."""
    if isinstance(sheet_or_column, Sheet):
        en, _, zh = sheet_or_column.title.rpartition(" ")
        return {_normal(sheet_or_column.title), _normal(en), _normal(zh)}
    column = sheet_or_column
    return {_normal(column.header), _normal(column.en), _normal(column.zh), _normal(column.key)}


def _text(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value  # the checks refuse it by name
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Excel stores a code typed as 1.1 as a number; read it back as the text it showed.
        return str(int(value)) if value.is_integer() else format(value, "g")
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if value == "":
        return None
    return value  # anything else reaches the checks as it is, and they name it


def _sequence(items: list, cell: Cell) -> _Sequence:
    # Cells stand where the YAML loader keeps line numbers; CatalogueError prints either.
    sequence = _Sequence(items)
    sequence.line = cell
    sequence.item_lines = [cell] * len(items)
    return sequence


def _value(raw: Any, column: Column, cell: Cell) -> Any:
    if column.kind == NUMBER:
        return _number(raw)
    value = _text(raw)
    if column.kind == KEY and isinstance(value, str):
        return value.strip() or None
    if column.kind == KEYS:
        parts = _LIST_SEPARATORS.split(value) if isinstance(value, str) else []
        return _sequence([p.strip() for p in parts if p.strip()], cell)
    if column.kind == LINES:
        lines = value.replace("\r", "").split("\n") if isinstance(value, str) else []
        return _sequence([line.strip() for line in lines if line.strip()], cell)
    return value


def _mapping(line: Cell, key_lines: dict[str, Cell] | None = None, **values: Any) -> _Mapping:
    mapping = _Mapping(values)
    mapping.line = line
    mapping.key_lines = key_lines if key_lines is not None else dict.fromkeys(values, line)
    return mapping


def _rows(path: Path, worksheet, sheet: Sheet) -> list[_Mapping]:
    """The sheet's rows as mappings keyed like the YAML, each value located by its cell."""
    from openpyxl.utils import get_column_letter

    values = list(worksheet.iter_rows(values_only=True))
    header = values[0] if values else ()
    found: dict[Column, int] = {}
    for index, title in enumerate(header):
        if title is None or not str(title).strip():
            continue
        letter = get_column_letter(index + 1)
        column = next((c for c in sheet.columns if _normal(title) in _names(c)), None)
        where = Cell(sheet.title, 1, str(title), letter)
        if column is None:
            expected = ", ".join(c.header for c in sheet.columns)
            raise CatalogueError(f"unknown column (expected: {expected})", file=path, line=where)
        if column in found:
            raise CatalogueError("this column appears twice", file=path, line=where)
        found[column] = index
    for column in sheet.columns:
        if column not in found:
            raise CatalogueError(
                f"the column '{column.header}' is missing",
                file=path,
                line=Cell(sheet.title, 1),
            )
    rows = []
    for number, cells in enumerate(values[1:], start=2):
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        data, key_lines = {}, {}
        for column, index in found.items():
            cell = Cell(sheet.title, number, column.header, get_column_letter(index + 1))
            raw = cells[index] if index < len(cells) else None
            data[column.key] = _value(raw, column, cell)
            key_lines[column.key] = cell
        rows.append(_mapping(Cell(sheet.title, number), key_lines, **data))
    return rows


def _meta(path: Path, rows: list[_Mapping], sheet: Sheet) -> _Mapping:
    values, key_lines = {}, {}
    for row in rows:
        key, cell = row["key"], row.key_lines["value"]
        if not isinstance(key, str):
            raise CatalogueError("a key is needed", file=path, line=row.key_lines["key"])
        if key in values:
            raise CatalogueError(
                f"duplicate key '{key}' (first at {key_lines[key]})",
                file=path,
                line=row.key_lines["key"],
            )
        value = row["value"]
        if row["format"] == "json":
            try:
                value = json.loads(value) if isinstance(value, str) else value
            except ValueError as exc:
                raise CatalogueError(f"not valid JSON ({exc.msg})", file=path, line=cell) from exc
        elif row["format"] not in (None, "text"):
            raise CatalogueError("must be text or json", file=path, line=row.key_lines["format"])
        values[key], key_lines[key] = value, cell
    return _mapping(Cell(sheet.title), key_lines, **values)


def _nest(path: Path, parents: list[_Mapping], children: list[_Mapping], *, link: str, into: str):
    """Put each child row under the parent its `link` column names (in row order)."""
    by_code: dict[str, _Mapping] = {}
    for parent in parents:
        if parent.get("code") is None:
            cell = parent.key_lines["code"]
            raise CatalogueError("required field is empty", file=path, line=cell)
        parent[into] = _sequence([], parent.line)
        parent.key_lines[into] = parent.line
        by_code.setdefault(str(parent.get("code")), parent)
    for child in children:
        code = child.pop(link)
        cell = child.key_lines.pop(link)
        parent = by_code.get(str(code)) if code is not None else None
        if parent is None:
            what = "an aspect" if link == "aspect" else "a measure"
            message = f"unknown {link} '{code}'" if code else f"{what} is needed"
            raise CatalogueError(message, file=path, line=cell)
        parent[into].append(child)
        parent[into].item_lines.append(child.line)


def workbook_read(path: Path) -> tuple[tuple[_Mapping, str], tuple[_Mapping, str]]:
    """((plan, sha256), (organisation, sha256)) from a workbook, shaped like the YAML files."""
    from openpyxl import load_workbook

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"cannot read {path} ({exc.strerror})", file=path) from exc
    try:
        workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, XML or format errors all mean the same
        raise CatalogueError("not an Excel workbook (.xlsx)", file=path) from exc
    try:
        titles = {_normal(ws.title): ws for ws in workbook.worksheets}
        rows: dict[Sheet, list[_Mapping]] = {}
        for sheet in SHEETS:
            worksheet = next((titles[n] for n in _names(sheet) if n in titles), None)
            if worksheet is None:
                raise CatalogueError(f"the sheet '{sheet.title}' is missing", file=path)
            rows[sheet] = _rows(path, worksheet, sheet)
    finally:
        workbook.close()
    sha256 = hashlib.sha256(raw).hexdigest()

    _nest(path, rows[ASPECTS], rows[MEASURES], link="aspect", into="measures")
    _nest(path, rows[MEASURES], rows[STEPS], link="measure", into="steps")
    plan = _mapping(
        Cell(None),
        {"meta": Cell(PLAN.title), "aspects": Cell(ASPECTS.title)},
        meta=_meta(path, rows[PLAN], PLAN),
        aspects=_sequence(rows[ASPECTS], Cell(ASPECTS.title)),
    )
    plan["aspects"].item_lines = [row.line for row in rows[ASPECTS]]
    organisation_parts = {
        "levels": LEVELS,
        "departments": DEPARTMENTS,
        "leader_roles": LEADER_POSTS,
        "step_roles": STEP_ROLES,
    }
    organisation = _mapping(
        Cell(None),
        {"meta": Cell(ORGANISATION.title)}
        | {key: Cell(sheet.title) for key, sheet in organisation_parts.items()},
        meta=_meta(path, rows[ORGANISATION], ORGANISATION),
        **{
            key: _sequence(rows[sheet], Cell(sheet.title))
            for key, sheet in organisation_parts.items()
        },
    )
    for key, sheet in organisation_parts.items():
        organisation[key].item_lines = [row.line for row in rows[sheet]]
    return (plan, sha256), (organisation, sha256)


def catalogue_load_workbook(*, path: Path) -> LoadResult:
    """Load a workbook (both the plan and the organisation) with the YAML loader's checks and
    transaction; raises CatalogueError naming the sheet, row and column."""
    path = Path(path)
    plan_document, organisation_document = workbook_read(path)
    organisation = _parse_organisation(path, organisation_document)
    plan = _parse_plan(path, organisation, plan_document)
    return catalogue_apply(plan, organisation)
