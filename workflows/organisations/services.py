"""Organisations below the national federation: creating them with their own departments and
leader roles (copied from the national set), and importing them from CSV or XLSX."""

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from workflows.common import change_stamp
from workflows.models import Department, LeaderRole, Organisation, OrganisationLevel


@dataclass(frozen=True)
class RolesCopied:
    departments: int
    leader_roles: int


@transaction.atomic
def organisation_roles_copy(
    *, organisation: Organisation, source: Organisation | None = None
) -> RolesCopied:
    """Give an organisation the source's departments and leader roles (same keys and titles,
    no holders); keys it already has are left alone, so this can run again safely."""
    source = source or Organisation.national()
    have_departments = set(organisation.departments.values_list("key", flat=True))
    departments = {
        d.key: d
        for d in Department.objects.bulk_create(
            [
                Department(
                    organisation=organisation,
                    key=d.key,
                    title_en=d.title_en,
                    title_zh=d.title_zh,
                    name_check=d.name_check,
                )
                for d in source.departments.all()
                if d.key not in have_departments
            ]
        )
    }
    departments.update({d.key: d for d in organisation.departments.all()})
    have_roles = set(organisation.leader_roles.values_list("key", flat=True))
    source_roles = list(
        source.leader_roles.select_related("reports_to").prefetch_related("supervises")
    )
    # Person names are the national placeholders: a subordinate federation's roles start empty.
    created = LeaderRole.objects.bulk_create(
        [
            LeaderRole(
                organisation=organisation,
                key=r.key,
                title_en=r.title_en,
                title_zh=r.title_zh,
                assignment=r.assignment,
            )
            for r in source_roles
            if r.key not in have_roles
        ]
    )
    roles = {r.key: r for r in organisation.leader_roles.all()}
    for role in source_roles:
        if role.key in have_roles:
            continue
        mine = roles[role.key]
        if role.reports_to is not None:
            mine.reports_to = roles.get(role.reports_to.key)
            mine.save(update_fields=["reports_to"])
        mine.supervises.set(
            [departments[d.key] for d in role.supervises.all() if d.key in departments]
        )
    return RolesCopied(len(departments) - len(have_departments), len(created))


@transaction.atomic
def organisation_create(
    *, code: str, title_en: str, level: OrganisationLevel, parent: Organisation, title_zh: str = ""
) -> Organisation:
    """A new subordinate organisation with the national departments and leader roles."""
    if parent.level.rank >= level.rank:
        raise ValidationError(
            f"A {level.key} organisation cannot sit below a {parent.level.key} one."
        )
    organisation = Organisation.objects.create(
        code=code, title_en=title_en, title_zh=title_zh, level=level, parent=parent
    )
    organisation_roles_copy(organisation=organisation)
    change_stamp.bump_on_commit()  # not audited; the dashboard lists the federations below
    return organisation


# --------------------------------------------------------------------------- import

# Header spellings accepted for each field (compared lower-cased, spaces as underscores).
_COLUMNS = {
    "code": ("code",),
    "title_en": ("name_en", "title_en", "name"),
    "title_zh": ("name_zh", "title_zh"),
    "level": ("level",),
    "parent": ("parent", "parent_code"),
}


class OrganisationImportError(ValidationError):
    """The file has bad lines; `.errors` names each one (line and field). Nothing was saved."""

    def __init__(self, errors: list[str]):
        super().__init__(errors)
        self.errors = errors


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    code: str
    title_en: str
    title_zh: str
    level: str
    parent: str


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list]]]:
    """(headers, [(line number, cells)]) from a CSV or XLSX file; line 1 is the header."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    elif path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(io.StringIO(handle.read())))
    else:
        raise OrganisationImportError([f"{path.name}: expected a .csv or .xlsx file"])
    if not rows:
        raise OrganisationImportError([f"{path.name}: the file is empty"])
    headers = [str(h or "").strip().lower().replace(" ", "_") for h in rows[0]]
    return headers, [(number, cells) for number, cells in enumerate(rows[1:], start=2)]


def _cell(cells: list, index: int | None) -> str:
    if index is None or index >= len(cells) or cells[index] is None:
        return ""
    value = cells[index]
    # Spreadsheets turn codes such as "11" into numbers; read them back as text.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _parse(headers: list[str]) -> tuple[dict[str, int | None], list[str]]:
    index = {}
    for name, spellings in _COLUMNS.items():
        index[name] = next((headers.index(s) for s in spellings if s in headers), None)
    missing = [n for n in ("code", "level", "parent") if index[n] is None]
    errors = [f"line 1, {n}: the header has no '{n}' column" for n in missing]
    if index["title_en"] is None and index["title_zh"] is None:
        errors.append("line 1, name: the header needs name_en, name_zh, title_en or title_zh")
    return index, errors


def organisations_import(*, path: str | Path) -> ImportResult:
    """Create (or retitle) the organisations a CSV/XLSX file lists, all or nothing.

    Columns: code, name_en/name_zh (or title_en/title_zh; at least one), level (a level key),
    parent (a code already in the database or on another line). Raises
    OrganisationImportError naming every bad line and field; on error nothing is saved.
    """
    path = Path(path)
    headers, raw_rows = _read_rows(path)
    index, errors = _parse(headers)
    if errors:
        raise OrganisationImportError(errors)
    levels = {level.key: level for level in OrganisationLevel.objects.all()}
    rows: list[_Row] = []
    first_line: dict[str, int] = {}
    for line, cells in raw_rows:
        if not any(_cell(cells, i) for i in range(len(cells))):
            continue  # blank lines at the end of a spreadsheet
        row = _Row(line, *(_cell(cells, index[n]) for n in _COLUMNS))
        rows.append(row)

        def bad(field_name: str, message: str, line=line) -> None:
            errors.append(f"line {line}, {field_name}: {message}")

        if not row.code:
            bad("code", "required")
        else:
            try:
                validate_slug(row.code)
            except ValidationError:
                bad("code", f"'{row.code}' may hold only letters, digits, '-' and '_'")
            if len(row.code) > 60:
                bad("code", "longer than 60 characters")
            if row.code in first_line:
                bad("code", f"'{row.code}' is already on line {first_line[row.code]}")
            first_line.setdefault(row.code, line)
        if not row.title_en and not row.title_zh:
            bad("name", "give name_en or name_zh (at least one)")
        for name in ("title_en", "title_zh"):
            if len(getattr(row, name)) > 200:
                bad(name, "longer than 200 characters")
        level = levels.get(row.level)
        if not row.level:
            bad("level", "required")
        elif level is None:
            bad("level", f"unknown level '{row.level}' (known: {', '.join(sorted(levels))})")
        elif level.rank == 1:
            bad("level", "the national organisation comes from the catalogue, not an import")
        if not row.parent:
            bad("parent", "required")
    in_file = {row.code: row for row in rows if row.code}
    existing = {
        o.code: o
        for o in Organisation.objects.filter(
            code__in=[*in_file, *(r.parent for r in rows)]
        ).select_related("level", "parent")
    }
    for row in rows:
        level = levels.get(row.level)
        if not row.parent or level is None:
            continue
        if row.parent == row.code:
            errors.append(f"line {row.line}, parent: an organisation cannot be its own parent")
            continue
        if row.parent in in_file:
            parent_level = levels.get(in_file[row.parent].level)
        elif row.parent in existing:
            parent_level = existing[row.parent].level
        else:
            errors.append(f"line {row.line}, parent: no organisation '{row.parent}'")
            continue
        if parent_level is not None and parent_level.rank >= level.rank:
            errors.append(
                f"line {row.line}, level: a {level.key} organisation cannot sit below "
                f"'{row.parent}' ({parent_level.key})"
            )
        known = existing.get(row.code)
        if known is not None and (
            known.level_id != level.pk or getattr(known.parent, "code", None) != row.parent
        ):
            errors.append(
                f"line {row.line}, code: '{row.code}' exists already with another level or parent"
            )
    if errors:
        raise OrganisationImportError(sorted(set(errors), key=_line_order))
    return _save(rows, levels, existing)


def _line_order(message: str) -> tuple[int, str]:
    number = message.split(",", 1)[0].removeprefix("line ")
    return (int(number) if number.isdigit() else 0, message)


@transaction.atomic
def _save(rows: list[_Row], levels: dict, existing: dict) -> ImportResult:
    result = ImportResult()
    by_code = dict(existing)
    # Parents before children: a higher level has a smaller rank.
    for row in sorted(rows, key=lambda r: (levels[r.level].rank, r.line)):
        title_en = row.title_en or row.title_zh
        known = by_code.get(row.code) if row.code in existing else None
        if known is None:
            by_code[row.code] = organisation_create(
                code=row.code,
                title_en=title_en,
                title_zh=row.title_zh,
                level=levels[row.level],
                parent=by_code[row.parent],
            )
            result.created.append(row.code)
        elif (known.title_en, known.title_zh) != (title_en, row.title_zh):
            known.title_en, known.title_zh = title_en, row.title_zh
            known.save(update_fields=["title_en", "title_zh"])
            change_stamp.bump_on_commit()  # a renamed federation, not audited
            result.updated.append(row.code)
        else:
            result.unchanged.append(row.code)
    return result
