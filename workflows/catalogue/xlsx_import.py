"""Reading an edited catalogue workbook back: the same structure the YAML loader builds (every
value remembers its sheet, row and column), then the same checks and the same transaction,
so a bad workbook changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from workflows.catalogue.loader import LoadResult, catalogue_apply
from workflows.catalogue.reading import CatalogueError, LineMapping, LineSequence
from workflows.catalogue.specs import parse_organisation, parse_plan
from workflows.catalogue.xlsx_layout import (
    ASPECTS,
    DEPARTMENTS,
    KEY,
    KEYS,
    LEADER_POSTS,
    LEVELS,
    LINES,
    MEASURES,
    NUMBER,
    ORGANISATION,
    PLAN,
    SHEETS,
    STEP_ROLES,
    STEPS,
    Cell,
    Column,
    Sheet,
)

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


def _sequence(items: list, cell: Cell) -> LineSequence:
    # Cells stand where the YAML loader keeps line numbers; CatalogueError prints either.
    sequence = LineSequence(items)
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


def _mapping(line: Cell, key_lines: dict[str, Cell] | None = None, **values: Any) -> LineMapping:
    mapping = LineMapping(values)
    mapping.line = line
    mapping.key_lines = key_lines if key_lines is not None else dict.fromkeys(values, line)
    return mapping


def _rows(path: Path, worksheet, sheet: Sheet) -> list[LineMapping]:
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


def _meta(path: Path, rows: list[LineMapping], sheet: Sheet) -> LineMapping:
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


def _nest(
    path: Path, parents: list[LineMapping], children: list[LineMapping], *, link: str, into: str
):
    """Put each child row under the parent its `link` column names (in row order)."""
    by_code: dict[str, LineMapping] = {}
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


def workbook_read(path: Path) -> tuple[tuple[LineMapping, str], tuple[LineMapping, str]]:
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
        rows: dict[Sheet, list[LineMapping]] = {}
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
    organisation = parse_organisation(path, organisation_document)
    plan = parse_plan(path, organisation, plan_document)
    return catalogue_apply(plan, organisation)
