"""The catalogue as checked specifications: the organisation file (levels, departments,
leader roles, step roles) and the plan file (aspects, measures, step templates), parsed and
validated before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from workflows.catalogue.reading import (
    CatalogueError,
    _Item,
    _Ref,
    ensure_unique,
    field_limit,
    plain_value,
    read_yaml,
)
from workflows.models import (
    Aspect,
    CatalogueSource,
    Department,
    LeaderRole,
    Measure,
    OrganisationLevel,
    StepKind,
    StepRole,
    StepTemplate,
)
from workflows.models.catalogue import Provenance


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


def parse_organisation(path: Path, document=None) -> _OrganisationSpec:
    """Parse and check the organisation; `document` is (data, sha256) read from elsewhere
    (a workbook) in the YAML loader's shape, else the YAML file at `path` is read."""
    data, sha256 = document or read_yaml(path)
    top = _Item(path, data, "")
    top.allow("meta", "levels", "departments", "leader_roles", "step_roles")
    meta = top.mapping("meta")

    levels = []
    for item in top.items("levels"):
        item.allow("key", "title_en", "title_zh", "rank")
        levels.append(
            _LevelSpec(
                item=item,
                key=item.slug(
                    "key", max_length=field_limit(OrganisationLevel, "key"), required=True
                ),
                title_en=item.text(
                    "title_en", max_length=field_limit(OrganisationLevel, "title_en"), required=True
                ),
                title_zh=item.text(
                    "title_zh", max_length=field_limit(OrganisationLevel, "title_zh")
                ),
                rank=item.positive_int("rank"),
            )
        )
    ensure_unique(levels, "key", "level key")
    ensure_unique(levels, "rank", "level rank")
    if not any(level.rank == 1 for level in levels):
        raise top.error("no level has rank 1 (the national level)", "levels")

    departments = []
    for item in top.items("departments"):
        item.allow("key", "title_en", "title_zh", "name_check")
        departments.append(
            _DepartmentSpec(
                item=item,
                key=item.slug("key", max_length=field_limit(Department, "key"), required=True),
                title_en=item.text(
                    "title_en", max_length=field_limit(Department, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=field_limit(Department, "title_zh")),
                name_check=item.text(
                    "name_check", max_length=field_limit(Department, "name_check")
                ),
            )
        )
    ensure_unique(departments, "key", "department key")

    leader_roles = []
    for item in top.items("leader_roles"):
        item.allow("key", "title_en", "title_zh", "name", "supervises", "reports_to", "assignment")
        leader_roles.append(
            _LeaderRoleSpec(
                item=item,
                key=item.slug("key", max_length=field_limit(LeaderRole, "key"), required=True),
                title_en=item.text(
                    "title_en", max_length=field_limit(LeaderRole, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=field_limit(LeaderRole, "title_zh")),
                person_name=item.text("name", max_length=field_limit(LeaderRole, "person_name")),
                assignment=item.text(
                    "assignment", max_length=field_limit(LeaderRole, "assignment")
                ),
                supervises=item.ref_list("supervises"),
                reports_to=item.ref("reports_to", required=False),
            )
        )
    ensure_unique(leader_roles, "key", "leader role key")

    step_roles = []
    for item in top.items("step_roles"):
        item.allow("key", "title_en", "title_zh", "department", "escalates_to")
        step_roles.append(
            _StepRoleSpec(
                item=item,
                key=item.slug("key", max_length=field_limit(StepRole, "key"), required=True),
                title_en=item.text(
                    "title_en", max_length=field_limit(StepRole, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=field_limit(StepRole, "title_zh")),
                department=item.ref("department", required=False),
                escalates_to=item.ref("escalates_to", required=False),
            )
        )
    ensure_unique(step_roles, "key", "step role key")

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
        meta=plain_value(meta.data),
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


def parse_plan(path: Path, organisation: _OrganisationSpec, document=None) -> _PlanSpec:
    """Parse and check the plan against the organisation; `document` as for the organisation."""
    data, sha256 = document or read_yaml(path)
    top = _Item(path, data, "")
    top.allow("meta", "aspects")
    meta = top.mapping("meta", required=True)

    aspects = []
    for item in top.items("aspects"):
        item.allow("code", "title_en", "title_zh", "title_zh_status", "provenance", "measures")
        aspects.append(
            _AspectSpec(
                item=item,
                code=item.text("code", max_length=field_limit(Aspect, "code"), required=True),
                title_en=item.text(
                    "title_en", max_length=field_limit(Aspect, "title_en"), required=True
                ),
                title_zh=item.text("title_zh", max_length=field_limit(Aspect, "title_zh")),
                title_zh_status=item.text(
                    "title_zh_status", max_length=field_limit(Aspect, "title_zh_status")
                ),
                provenance=item.choice("provenance", Provenance.values),
                measures=[_parse_measure(measure) for measure in item.items("measures")],
            )
        )
    ensure_unique(aspects, "code", "aspect code")
    plan = _PlanSpec(
        path=path,
        sha256=sha256,
        meta=plain_value(meta.data),
        plan_title_en=meta.text(
            "plan_title_en", max_length=field_limit(CatalogueSource, "plan_title_en"), required=True
        ),
        plan_title_zh=meta.text(
            "plan_title_zh", max_length=field_limit(CatalogueSource, "plan_title_zh")
        ),
        issuer=meta.text("issuer", max_length=field_limit(CatalogueSource, "issuer")),
        issued_on=meta.iso_date("issued_on"),
        aspects=aspects,
    )
    ensure_unique(plan.measures, "code", "measure code")

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
                key=step.slug("key", max_length=field_limit(StepTemplate, "key"), required=True),
                title_en=step.text(
                    "title_en", max_length=field_limit(StepTemplate, "title_en"), required=True
                ),
                title_zh=step.text("title_zh", max_length=field_limit(StepTemplate, "title_zh")),
                kind=step.choice("kind", StepKind.values),
                role=_required_ref(step, "role"),
                working_days=step.positive_int("working_days"),
            )
        )
    if not steps:
        raise item.error("a measure needs at least one step", "steps")
    ensure_unique(steps, "key", "step key")
    return _MeasureSpec(
        item=item,
        code=item.text("code", max_length=field_limit(Measure, "code"), required=True),
        title_en=item.text("title_en", max_length=field_limit(Measure, "title_en"), required=True),
        title_zh=item.text("title_zh", max_length=field_limit(Measure, "title_zh")),
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
