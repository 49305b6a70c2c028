"""Load the reform-plan catalogue (a plan file and an organisation file) into the database.

Both files are parsed and checked completely before anything is written, and every write
happens in one transaction, so a bad file never leaves a half-loaded catalogue behind.
Every complaint is a `CatalogueError` that names the file, the 1-based line and the field.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import yaml
from django.db import models, transaction
from django.db.models import F

from workflows.models import (
    Aspect,
    CatalogueSource,
    Department,
    LeaderRole,
    Measure,
    Organisation,
    OrganisationLevel,
    StepKind,
    StepRole,
    StepTemplate,
)
from workflows.models.catalogue import Provenance

NATIONAL_CODE = "acftu"
NATIONAL_TITLE_EN = "All-China Federation of Trade Unions"
NATIONAL_TITLE_ZH = "中华全国总工会"

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"

# Row kinds in the order they are loaded; LoadResult.rows is keyed by these.
ROW_KINDS = (
    "levels",
    "national organisation",
    "departments",
    "leader roles",
    "step roles",
    "aspects",
    "measures",
    "steps",
    "catalogue source",
)

_M = TypeVar("_M", bound=models.Model)

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
# Steps whose position changes are parked above this offset first, because positions are
# unique per measure and two steps swapping places would otherwise collide midway.
_PARKING_OFFSET = 10_000


class CatalogueError(Exception):
    """A catalogue file that cannot be loaded; `file`, `line` (1-based) and `field` locate it.

    In a workbook `line` is a cell (catalogue_xlsx.Cell), which names its sheet, row and column.
    """

    def __init__(
        self, message: str, *, file: Path, line: int | None = None, field: str | None = None
    ) -> None:
        self.message = message
        self.file = Path(file)
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is not None and not isinstance(self.line, int):
            return f"{self.file.name}: {self.line}: {self.message}"
        where = self.file.name if self.line is None else f"{self.file.name} line {self.line}"
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what}"


def _where(line: Any) -> str:
    """ "line N" in a YAML file; a workbook cell describes itself."""
    return f"line {line}" if isinstance(line, int) else str(line)


@dataclass(frozen=True)
class LoadResult:
    """What one load did: how much the files hold, each row's fate per kind, and warnings."""

    aspects: int
    measures: int
    departments: int
    leader_roles: int
    rows: dict[str, dict[str, int]]
    warnings: list[str] = field(default_factory=list)

    def _total(self, status: str) -> int:
        return sum(counts.get(status, 0) for counts in self.rows.values())

    @property
    def created(self) -> int:
        return self._total(CREATED)

    @property
    def updated(self) -> int:
        return self._total(UPDATED)

    @property
    def unchanged(self) -> int:
        return self._total(UNCHANGED)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        return (
            f"{self.aspects} aspects, {self.measures} measures, {self.departments} departments, "
            f"{self.leader_roles} leader roles "
            f"(created {self.created}, updated {self.updated}, unchanged {self.unchanged})"
        )


# --------------------------------------------------------------------------- YAML reading


class _Mapping(dict[Any, Any]):
    """A YAML mapping that remembers the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class _Sequence(list[Any]):
    """A YAML sequence that remembers the line it starts on and the line of each item."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry 1-based line numbers."""

    def construct_located_mapping(self, node: yaml.MappingNode) -> Iterator[_Mapping]:
        data = _Mapping()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        yield data
        # PyYAML keeps the last of two equal keys silently; in a catalogue that hides a typo.
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key '{key_node.value}' (first at line {seen[ident]})",
                        key_node.start_mark,
                    )
                seen[ident] = key_node.start_mark.line + 1
        data.update(self.construct_mapping(node))
        for key_node, _ in node.value:
            data.key_lines[self.construct_object(key_node)] = key_node.start_mark.line + 1

    def construct_located_sequence(self, node: yaml.SequenceNode) -> Iterator[_Sequence]:
        data = _Sequence()
        data.line = node.start_mark.line + 1
        data.item_lines = [item.start_mark.line + 1 for item in node.value]
        yield data
        data.extend(self.construct_sequence(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_located_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_located_sequence)


def _read_yaml(path: Path) -> tuple[_Mapping, str]:
    """The file's top-level mapping and the sha256 of its bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"cannot read {path} ({exc.strerror})", file=path) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueError("the file is not UTF-8 text", file=path) from exc
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        line = mark.line + 1 if mark is not None else None
        raise CatalogueError(f"invalid YAML: {problem}", file=path, line=line) from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"invalid YAML: {exc}", file=path) from exc
    finally:
        loader.dispose()
    if not isinstance(data, _Mapping):
        raise CatalogueError(
            "the file must hold a YAML mapping at the top level", file=path, line=1
        )
    return data, hashlib.sha256(raw).hexdigest()


def _plain(value: Any) -> Any:
    """A JSON-ready copy, so a stored meta compares equal to the file's on the next load."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _limit(model: type[models.Model], name: str) -> int:
    return int(getattr(model._meta.get_field(name), "max_length", 0) or 0)


# --------------------------------------------------------------------------- field checks


@dataclass(frozen=True)
class _Ref:
    """A key that must name something defined elsewhere, with where it was written."""

    key: str
    file: Path
    line: int
    field: str

    def check(self, known: Iterable[str], what: str) -> None:
        if self.key not in known:
            raise CatalogueError(
                f"unknown {what} '{self.key}'", file=self.file, line=self.line, field=self.field
            )


@dataclass(frozen=True)
class _Item:
    """One mapping of a catalogue file and its path (`aspects[1].measures[0]`)."""

    file: Path
    data: _Mapping
    path: str

    @property
    def line(self) -> int:
        return self.data.line

    def field_path(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def line_of(self, name: str) -> int:
        return self.data.key_lines.get(name, self.data.line)

    def error(self, message: str, name: str, *, line: int | None = None) -> CatalogueError:
        return CatalogueError(
            message, file=self.file, line=line or self.line_of(name), field=self.field_path(name)
        )

    def allow(self, *names: str) -> None:
        for key in self.data:
            if key not in names:
                raise self.error(f"unknown field (expected one of: {', '.join(names)})", str(key))

    def _value(self, name: str, required: bool) -> Any:
        if name not in self.data:
            if required:
                raise self.error("required field is missing", name, line=self.line)
            return None
        value = self.data[name]
        if value is None and required:
            raise self.error("required field is empty", name)
        return value

    def text(self, name: str, *, max_length: int | None = None, required: bool = False) -> str:
        value = self._value(name, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(f"must be text, not {value!r}", name)
        if required and not value.strip():
            raise self.error("required field is empty", name)
        if max_length and len(value) > max_length:
            raise self.error(f"is {len(value)} characters long; the limit is {max_length}", name)
        return value

    def slug(self, name: str, *, max_length: int, required: bool = False) -> str:
        value = self.text(name, max_length=max_length, required=required)
        if value and not _SLUG.match(value):
            raise self.error(f"must be a key of letters, digits, '-' or '_', not {value!r}", name)
        return value

    def positive_int(self, name: str) -> int:
        value = self._value(name, required=True)
        # bool is an int in Python; `yes` in YAML is not a number of days.
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 32767:
            raise self.error(f"must be a positive whole number, not {value!r}", name)
        return value

    def choice(self, name: str, choices: Iterable[str]) -> str:
        allowed = list(choices)
        value = self._value(name, required=True)
        if value not in allowed:
            raise self.error(f"must be one of {', '.join(allowed)}, not {value!r}", name)
        return str(value)

    def iso_date(self, name: str) -> date | None:
        value = self._value(name, required=False)
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise self.error(f"must be a date (YYYY-MM-DD), not {value!r}", name) from None

    def mapping(self, name: str, *, required: bool = False) -> _Item:
        value = self._value(name, required)
        if value is None:
            value = _Mapping()
            value.line, value.key_lines = self.line, {}
        if not isinstance(value, _Mapping):
            raise self.error("must be a mapping", name)
        return _Item(self.file, value, self.field_path(name))

    def _sequence(self, name: str, *, required: bool) -> _Sequence:
        value = self._value(name, required)
        if value is None:
            return _Sequence()
        if not isinstance(value, _Sequence):
            raise self.error("must be a list", name)
        return value

    def items(self, name: str, *, required: bool = True) -> list[_Item]:
        items = []
        sequence = self._sequence(name, required=required)
        for index, value in enumerate(sequence):
            path = f"{self.field_path(name)}[{index}]"
            if not isinstance(value, _Mapping):
                raise CatalogueError(
                    "must be a mapping", file=self.file, line=sequence.item_lines[index], field=path
                )
            items.append(_Item(self.file, value, path))
        return items

    def text_list(self, name: str) -> list[str]:
        sequence = self._sequence(name, required=False)
        for index, value in enumerate(sequence):
            if not isinstance(value, str):
                raise self.error(
                    f"must be text, not {value!r}",
                    f"{name}[{index}]",
                    line=sequence.item_lines[index],
                )
        return list(sequence)

    def ref(self, name: str, *, required: bool = True) -> _Ref | None:
        value = self._value(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"must be a key, not {value!r}", name)
        return _Ref(value, self.file, self.line_of(name), self.field_path(name))

    def ref_list(self, name: str) -> list[_Ref]:
        sequence = self._sequence(name, required=False)
        refs = []
        for index, value in enumerate(sequence):
            path = f"{self.field_path(name)}[{index}]"
            line = sequence.item_lines[index]
            if not isinstance(value, str):
                raise CatalogueError(
                    f"must be a key, not {value!r}", file=self.file, line=line, field=path
                )
            refs.append(_Ref(value, self.file, line, path))
        return refs


def _ensure_unique(specs: Iterable[Any], attr: str, what: str) -> None:
    first: dict[Any, _Item] = {}
    for spec in specs:
        value = getattr(spec, attr)
        if value in first:
            earlier = first[value].line_of(attr)
            raise spec.item.error(f"duplicate {what} '{value}' (first at {_where(earlier)})", attr)
        first[value] = spec.item


# --------------------------------------------------------------------------- parsed files


@dataclass
class _LevelSpec:
    item: _Item
    key: str
    title_en: str
    title_zh: str
    rank: int


@dataclass
class _DepartmentSpec:
    item: _Item
    key: str
    title_en: str
    title_zh: str
    name_check: str


@dataclass
class _LeaderRoleSpec:
    item: _Item
    key: str
    title_en: str
    title_zh: str
    person_name: str
    assignment: str
    supervises: list[_Ref]
    reports_to: _Ref | None


@dataclass
class _StepRoleSpec:
    item: _Item
    key: str
    title_en: str
    title_zh: str
    department: _Ref | None
    escalates_to: _Ref | None


@dataclass
class _OrganisationSpec:
    path: Path
    sha256: str
    meta: dict[str, Any]
    levels: list[_LevelSpec]
    departments: list[_DepartmentSpec]
    leader_roles: list[_LeaderRoleSpec]
    step_roles: list[_StepRoleSpec]


@dataclass
class _StepSpec:
    item: _Item
    key: str
    title_en: str
    title_zh: str
    kind: str
    role: _Ref
    working_days: int


@dataclass
class _MeasureSpec:
    item: _Item
    code: str
    title_en: str
    title_zh: str
    summary_en: str
    actions: list[str]
    basis: str
    provenance: str
    lead_department: _Ref
    partner_departments: list[_Ref]
    supervising_leader: _Ref
    applies_to_levels: list[_Ref]
    target_months: int
    steps: list[_StepSpec]


@dataclass
class _AspectSpec:
    item: _Item
    code: str
    title_en: str
    title_zh: str
    title_zh_status: str
    provenance: str
    measures: list[_MeasureSpec]


@dataclass
class _PlanSpec:
    path: Path
    sha256: str
    meta: dict[str, Any]
    plan_title_en: str
    plan_title_zh: str
    issuer: str
    issued_on: date | None
    aspects: list[_AspectSpec]

    @property
    def measures(self) -> list[_MeasureSpec]:
        return [measure for aspect in self.aspects for measure in aspect.measures]


def _required_ref(item: _Item, name: str) -> _Ref:
    ref = item.ref(name)
    # Accepted bandit B101: narrows the type only; a required ref raises before returning None.
    assert ref is not None  # nosec B101
    return ref


def _parse_organisation(path: Path, document=None) -> _OrganisationSpec:
    """Parse and check the organisation; `document` is (data, sha256) read from elsewhere
    (a workbook) in the YAML loader's shape, else the YAML file at `path` is read."""
    data, sha256 = document or _read_yaml(path)
    top = _Item(path, data, "")
    top.allow("meta", "levels", "departments", "leader_roles", "step_roles")
    meta = top.mapping("meta")

    levels = []
    for item in top.items("levels"):
        item.allow("key", "title_en", "title_zh", "rank")
        levels.append(
            _LevelSpec(
                item=item,
                key=item.slug("key", max_length=_limit(OrganisationLevel, "key"), required=True),
                title_en=item.text(
                    "title_en", max_length=_limit(OrganisationLevel, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=_limit(OrganisationLevel, "title_zh")),
                rank=item.positive_int("rank"),
            )
        )
    _ensure_unique(levels, "key", "level key")
    _ensure_unique(levels, "rank", "level rank")
    if not any(level.rank == 1 for level in levels):
        raise top.error("no level has rank 1 (the national level)", "levels")

    departments = []
    for item in top.items("departments"):
        item.allow("key", "title_en", "title_zh", "name_check")
        departments.append(
            _DepartmentSpec(
                item=item,
                key=item.slug("key", max_length=_limit(Department, "key"), required=True),
                title_en=item.text(
                    "title_en", max_length=_limit(Department, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=_limit(Department, "title_zh")),
                name_check=item.text("name_check", max_length=_limit(Department, "name_check")),
            )
        )
    _ensure_unique(departments, "key", "department key")

    leader_roles = []
    for item in top.items("leader_roles"):
        item.allow("key", "title_en", "title_zh", "name", "supervises", "reports_to", "assignment")
        leader_roles.append(
            _LeaderRoleSpec(
                item=item,
                key=item.slug("key", max_length=_limit(LeaderRole, "key"), required=True),
                title_en=item.text(
                    "title_en", max_length=_limit(LeaderRole, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=_limit(LeaderRole, "title_zh")),
                person_name=item.text("name", max_length=_limit(LeaderRole, "person_name")),
                assignment=item.text("assignment", max_length=_limit(LeaderRole, "assignment")),
                supervises=item.ref_list("supervises"),
                reports_to=item.ref("reports_to", required=False),
            )
        )
    _ensure_unique(leader_roles, "key", "leader role key")

    step_roles = []
    for item in top.items("step_roles"):
        item.allow("key", "title_en", "title_zh", "department", "escalates_to")
        step_roles.append(
            _StepRoleSpec(
                item=item,
                key=item.slug("key", max_length=_limit(StepRole, "key"), required=True),
                title_en=item.text(
                    "title_en", max_length=_limit(StepRole, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=_limit(StepRole, "title_zh")),
                department=item.ref("department", required=False),
                escalates_to=item.ref("escalates_to", required=False),
            )
        )
    _ensure_unique(step_roles, "key", "step role key")

    department_keys = {department.key for department in departments}
    leader_keys = {role.key for role in leader_roles}
    for role in leader_roles:
        for ref in role.supervises:
            ref.check(department_keys, "department")
        if role.reports_to:
            role.reports_to.check(leader_keys, "leader role")
    _ensure_no_reporting_cycle(leader_roles)
    escalation_targets = leader_keys | {role.key for role in step_roles}
    for step_role in step_roles:
        if step_role.department:
            step_role.department.check(department_keys, "department")
        if step_role.escalates_to:
            step_role.escalates_to.check(escalation_targets, "step role or leader role")

    return _OrganisationSpec(
        path=path,
        sha256=sha256,
        meta=_plain(meta.data),
        levels=levels,
        departments=departments,
        leader_roles=leader_roles,
        step_roles=step_roles,
    )


def _ensure_no_reporting_cycle(leader_roles: list[_LeaderRoleSpec]) -> None:
    # Escalation walks reports_to upwards; a cycle would make it walk for ever.
    boss = {role.key: role.reports_to.key for role in leader_roles if role.reports_to}
    by_key = {role.key: role for role in leader_roles}
    for role in leader_roles:
        chain = [role.key]
        while chain[-1] in boss:
            chain.append(boss[chain[-1]])
            if chain[-1] == role.key:
                reports_to = by_key[role.key].reports_to
                # Accepted bandit B101: narrows the type; a role in a cycle has reports_to.
                assert reports_to is not None  # nosec B101
                raise CatalogueError(
                    f"reports_to forms a cycle: {' -> '.join(chain)}",
                    file=reports_to.file,
                    line=reports_to.line,
                    field=reports_to.field,
                )
            if chain.count(chain[-1]) > 1:
                break  # a cycle above this role; it is reported from a role on the cycle


def _parse_plan(path: Path, organisation: _OrganisationSpec, document=None) -> _PlanSpec:
    """Parse and check the plan against the organisation; `document` as for the organisation."""
    data, sha256 = document or _read_yaml(path)
    top = _Item(path, data, "")
    top.allow("meta", "aspects")
    meta = top.mapping("meta", required=True)

    aspects = []
    for item in top.items("aspects"):
        item.allow("code", "title_en", "title_zh", "title_zh_status", "provenance", "measures")
        aspects.append(
            _AspectSpec(
                item=item,
                code=item.text("code", max_length=_limit(Aspect, "code"), required=True),
                title_en=item.text(
                    "title_en", max_length=_limit(Aspect, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=_limit(Aspect, "title_zh")),
                title_zh_status=item.text(
                    "title_zh_status", max_length=_limit(Aspect, "title_zh_status")
                ),
                provenance=item.choice("provenance", Provenance.values),
                measures=[_parse_measure(measure) for measure in item.items("measures")],
            )
        )
    _ensure_unique(aspects, "code", "aspect code")
    plan = _PlanSpec(
        path=path,
        sha256=sha256,
        meta=_plain(meta.data),
        plan_title_en=meta.text(
            "plan_title_en", max_length=_limit(CatalogueSource, "plan_title_en"), required=True
        ),
        plan_title_zh=meta.text(
            "plan_title_zh", max_length=_limit(CatalogueSource, "plan_title_zh")
        ),
        issuer=meta.text("issuer", max_length=_limit(CatalogueSource, "issuer")),
        issued_on=meta.iso_date("issued_on"),
        aspects=aspects,
    )
    _ensure_unique(plan.measures, "code", "measure code")

    department_keys = {department.key for department in organisation.departments}
    leader_keys = {role.key for role in organisation.leader_roles}
    level_keys = {level.key for level in organisation.levels}
    step_role_keys = {role.key for role in organisation.step_roles}
    for measure in plan.measures:
        measure.lead_department.check(department_keys, "department")
        for ref in measure.partner_departments:
            ref.check(department_keys, "department")
        measure.supervising_leader.check(leader_keys, "leader role")
        for ref in measure.applies_to_levels:
            ref.check(level_keys, "level")
        for step in measure.steps:
            step.role.check(step_role_keys, "step role")
    return plan


def _parse_measure(item: _Item) -> _MeasureSpec:
    item.allow(
        "code",
        "title_en",
        "title_zh",
        "summary_en",
        "actions",
        "basis",
        "provenance",
        "lead_department",
        "partner_departments",
        "supervising_leader",
        "applies_to_levels",
        "target_months",
        "steps",
    )
    steps = []
    for step in item.items("steps"):
        step.allow("key", "title_en", "title_zh", "kind", "role", "working_days")
        steps.append(
            _StepSpec(
                item=step,
                key=step.slug("key", max_length=_limit(StepTemplate, "key"), required=True),
                title_en=step.text(
                    "title_en", max_length=_limit(StepTemplate, "title_en"), required=True
                ),
                title_zh=step.text("title_zh", max_length=_limit(StepTemplate, "title_zh")),
                kind=step.choice("kind", StepKind.values),
                role=_required_ref(step, "role"),
                working_days=step.positive_int("working_days"),
            )
        )
    if not steps:
        raise item.error("a measure needs at least one step", "steps")
    _ensure_unique(steps, "key", "step key")
    return _MeasureSpec(
        item=item,
        code=item.text("code", max_length=_limit(Measure, "code"), required=True),
        title_en=item.text("title_en", max_length=_limit(Measure, "title_en"), required=True),
        title_zh=item.text("title_zh", max_length=_limit(Measure, "title_zh")),
        summary_en=item.text("summary_en"),
        actions=item.text_list("actions"),
        basis=item.text("basis"),
        provenance=item.choice("provenance", Provenance.values),
        lead_department=_required_ref(item, "lead_department"),
        partner_departments=item.ref_list("partner_departments"),
        supervising_leader=_required_ref(item, "supervising_leader"),
        applies_to_levels=item.ref_list("applies_to_levels"),
        target_months=item.positive_int("target_months"),
        steps=steps,
    )


# --------------------------------------------------------------------------- writing


class _Tally:
    def __init__(self) -> None:
        self.rows: dict[str, Counter[str]] = {kind: Counter() for kind in ROW_KINDS}

    def add(self, kind: str, status: str) -> None:
        self.rows[kind][status] += 1


def _save_changes(instance: models.Model, values: Mapping[str, Any]) -> bool:
    """Set and save only the fields that differ, so an unchanged row is never written."""
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, values[name])
    if changed:
        instance.save(update_fields=changed)
    return bool(changed)


def _upsert(
    model: type[_M],
    existing: dict[str, _M],
    key: str,
    lookup: dict[str, Any],
    values: dict[str, Any],
) -> tuple[_M, str]:
    instance = existing.get(key)
    if instance is None:
        instance = model._default_manager.create(**lookup, **values)
        existing[key] = instance
        return instance, CREATED
    return instance, UPDATED if _save_changes(instance, values) else UNCHANGED


def _set_related(manager: Any, pks: set[int]) -> bool:
    if set(manager.values_list("pk", flat=True)) == pks:
        return False
    manager.set(pks)
    return True


@dataclass
class _Organisation:
    national: Organisation
    departments: dict[str, Department]
    leader_roles: dict[str, LeaderRole]
    step_roles: dict[str, StepRole]


def _apply_organisation(spec: _OrganisationSpec, tally: _Tally) -> _Organisation:
    levels = {level.key: level for level in OrganisationLevel.objects.all()}
    for level in spec.levels:
        _, status = _upsert(
            OrganisationLevel,
            levels,
            level.key,
            {"key": level.key},
            {"title_en": level.title_en, "title_zh": level.title_zh, "rank": level.rank},
        )
        tally.add("levels", status)

    national_level = levels[next(level.key for level in spec.levels if level.rank == 1)]
    national = (
        Organisation.objects.filter(code=NATIONAL_CODE).first()
        or Organisation.objects.filter(parent__isnull=True, level__rank=1).first()
    )
    if national is None:
        national = Organisation.objects.create(
            code=NATIONAL_CODE,
            title_en=NATIONAL_TITLE_EN,
            title_zh=NATIONAL_TITLE_ZH,
            level=national_level,
        )
        tally.add("national organisation", CREATED)
    else:
        # Titles are left to the admin; only the level must follow the file's rank 1.
        changed = _save_changes(national, {"level_id": national_level.pk})
        tally.add("national organisation", UPDATED if changed else UNCHANGED)

    departments = {department.key: department for department in national.departments.all()}
    for department in spec.departments:
        _, status = _upsert(
            Department,
            departments,
            department.key,
            {"organisation": national, "key": department.key},
            {
                "title_en": department.title_en,
                "title_zh": department.title_zh,
                "name_check": department.name_check,
            },
        )
        tally.add("departments", status)

    # reports_to points at other roles, so every role must exist before any link is set.
    leader_roles = {role.key: role for role in national.leader_roles.all()}
    created = set()
    for role in spec.leader_roles:
        if role.key not in leader_roles:
            leader_roles[role.key] = LeaderRole.objects.create(
                organisation=national, key=role.key, title_en=role.title_en
            )
            created.add(role.key)
    for role in spec.leader_roles:
        instance = leader_roles[role.key]
        boss = leader_roles[role.reports_to.key] if role.reports_to else None
        changed = _save_changes(
            instance,
            {
                "title_en": role.title_en,
                "title_zh": role.title_zh,
                "person_name": role.person_name,
                "assignment": role.assignment,
                "reports_to_id": boss.pk if boss else None,
            },
        )
        supervised = {departments[ref.key].pk for ref in role.supervises}
        changed = _set_related(instance.supervises, supervised) or changed
        status = CREATED if role.key in created else UPDATED if changed else UNCHANGED
        tally.add("leader roles", status)

    step_roles = {role.key: role for role in StepRole.objects.all()}
    for step_role in spec.step_roles:
        _, status = _upsert(
            StepRole,
            step_roles,
            step_role.key,
            {"key": step_role.key},
            {
                "title_en": step_role.title_en,
                "title_zh": step_role.title_zh,
                "department_key": step_role.department.key if step_role.department else "",
                "escalates_to": step_role.escalates_to.key if step_role.escalates_to else "",
            },
        )
        tally.add("step roles", status)

    return _Organisation(national, departments, leader_roles, step_roles)


def _apply_plan(spec: _PlanSpec, organisation: _Organisation, tally: _Tally) -> None:
    aspects = {aspect.code: aspect for aspect in Aspect.objects.all()}
    measures = {measure.code: measure for measure in Measure.objects.all()}
    for aspect_position, aspect_spec in enumerate(spec.aspects, start=1):
        aspect, status = _upsert(
            Aspect,
            aspects,
            aspect_spec.code,
            {"code": aspect_spec.code},
            {
                "title_en": aspect_spec.title_en,
                "title_zh": aspect_spec.title_zh,
                "title_zh_status": aspect_spec.title_zh_status,
                "provenance": aspect_spec.provenance,
                "position": aspect_position,
            },
        )
        tally.add("aspects", status)
        for position, measure_spec in enumerate(aspect_spec.measures, start=1):
            _apply_measure(measure_spec, aspect, position, measures, organisation, tally)


def _apply_measure(
    spec: _MeasureSpec,
    aspect: Aspect,
    position: int,
    measures: dict[str, Measure],
    organisation: _Organisation,
    tally: _Tally,
) -> None:
    measure, status = _upsert(
        Measure,
        measures,
        spec.code,
        {"code": spec.code},
        {
            "aspect_id": aspect.pk,
            "position": position,
            "title_en": spec.title_en,
            "title_zh": spec.title_zh,
            "summary_en": spec.summary_en,
            "actions": spec.actions,
            "basis": spec.basis,
            "provenance": spec.provenance,
            "lead_department_id": organisation.departments[spec.lead_department.key].pk,
            "supervising_leader_id": organisation.leader_roles[spec.supervising_leader.key].pk,
            "applies_to_levels": [ref.key for ref in spec.applies_to_levels],
            "target_months": spec.target_months,
        },
    )
    partners = {organisation.departments[ref.key].pk for ref in spec.partner_departments}
    partners_changed = _set_related(measure.partner_departments, partners)
    steps_removed = _apply_steps(spec, measure, organisation.step_roles, tally)
    if status == UNCHANGED and (partners_changed or steps_removed):
        status = UPDATED
    tally.add("measures", status)


def _apply_steps(
    spec: _MeasureSpec, measure: Measure, step_roles: dict[str, StepRole], tally: _Tally
) -> bool:
    """Bring the measure's steps in line with the file; True if any step was removed."""
    existing = {step.key: step for step in measure.steps.all()}
    wanted = {step.key: position for position, step in enumerate(spec.steps, start=1)}
    stale = [step for key, step in existing.items() if key not in wanted]
    if stale:
        try:
            StepTemplate.objects.filter(pk__in=[step.pk for step in stale]).delete()
        except (models.ProtectedError, models.RestrictedError) as exc:
            raise spec.item.error(
                f"steps {', '.join(step.key for step in stale)} are no longer in the file "
                "but are still in use, so they cannot be removed",
                "steps",
            ) from exc
        for step in stale:
            del existing[step.key]
    moving = [step.pk for key, step in existing.items() if step.position != wanted[key]]
    if moving:
        StepTemplate.objects.filter(pk__in=moving).update(position=F("position") + _PARKING_OFFSET)
    for position, step in enumerate(spec.steps, start=1):
        _, status = _upsert(
            StepTemplate,
            existing,
            step.key,
            {"measure": measure, "key": step.key},
            {
                "position": position,
                "title_en": step.title_en,
                "title_zh": step.title_zh,
                "kind": step.kind,
                "role_id": step_roles[step.role.key].pk,
                "working_days": step.working_days,
            },
        )
        tally.add("steps", status)
    return bool(stale)


def _apply_source(plan: _PlanSpec, organisation: _OrganisationSpec, tally: _Tally) -> None:
    values = {
        "plan_title_en": plan.plan_title_en,
        "plan_title_zh": plan.plan_title_zh,
        "issuer": plan.issuer,
        "issued_on": plan.issued_on,
        "plan_meta": plan.meta,
        "organisation_meta": organisation.meta,
        "plan_sha256": plan.sha256,
        "organisation_sha256": organisation.sha256,
    }
    source = CatalogueSource.objects.order_by("pk").first()
    if source is None:
        CatalogueSource.objects.create(**values)
        tally.add("catalogue source", CREATED)
    else:
        tally.add("catalogue source", UPDATED if _save_changes(source, values) else UNCHANGED)


def _left_alone(plan: _PlanSpec, organisation: _Organisation, spec: _OrganisationSpec) -> list[str]:
    """Warnings for catalogue rows the files no longer mention (cases may still point at them)."""
    extra = {
        "levels": OrganisationLevel.objects.exclude(key__in=[s.key for s in spec.levels]),
        "departments": organisation.national.departments.exclude(
            key__in=[s.key for s in spec.departments]
        ),
        "leader roles": organisation.national.leader_roles.exclude(
            key__in=[s.key for s in spec.leader_roles]
        ),
        "step roles": StepRole.objects.exclude(key__in=[s.key for s in spec.step_roles]),
        "aspects": Aspect.objects.exclude(code__in=[s.code for s in plan.aspects]),
        "measures": Measure.objects.exclude(code__in=[s.code for s in plan.measures]),
    }
    warnings = []
    for kind, queryset in extra.items():
        field_name = "code" if kind in ("aspects", "measures") else "key"
        keys = sorted(queryset.values_list(field_name, flat=True))
        if keys:
            warnings.append(
                f"Warning: {len(keys)} {kind} in the database are not in the files and were "
                f"left alone: {', '.join(keys)}"
            )
    return warnings


def catalogue_load(*, plan_path: Path, organisation_path: Path) -> LoadResult:
    """Load both files in one transaction and return what changed; raises CatalogueError.

    Rows counted (created / updated / unchanged): levels, the national organisation,
    departments, leader roles, step roles, aspects, measures, steps and the one
    CatalogueSource row. A row counts as updated when any of its fields or its
    many-to-many links (supervises, partner_departments) changed; a measure also counts
    as updated when steps that the file no longer lists were deleted. Rows the files do
    not mention are kept and listed in `warnings`.
    """
    organisation_spec = _parse_organisation(Path(organisation_path))
    plan_spec = _parse_plan(Path(plan_path), organisation_spec)
    return catalogue_apply(plan_spec, organisation_spec)


def catalogue_apply(plan_spec: _PlanSpec, organisation_spec: _OrganisationSpec) -> LoadResult:
    """Write checked specs in one transaction (the YAML and the workbook loaders share it)."""
    tally = _Tally()
    with transaction.atomic():
        organisation = _apply_organisation(organisation_spec, tally)
        _apply_plan(plan_spec, organisation, tally)
        _apply_source(plan_spec, organisation_spec, tally)
        warnings = _left_alone(plan_spec, organisation, organisation_spec)
    return LoadResult(
        aspects=len(plan_spec.aspects),
        measures=len(plan_spec.measures),
        departments=len(organisation_spec.departments),
        leader_roles=len(organisation_spec.leader_roles),
        rows={kind: dict(counts) for kind, counts in tally.rows.items()},
        warnings=warnings,
    )
