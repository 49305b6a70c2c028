"""Load the reform-plan catalogue (a plan file and an organisation file) into the database.

Both files are parsed and checked completely before anything is written, and every write
happens in one transaction, so a bad file never leaves a half-loaded catalogue behind.
Every complaint is a `CatalogueError` that names the file, the 1-based line and the field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models import F

from workflows.catalogue.reading import LineLoader
from workflows.catalogue.specs import (
    _MeasureSpec,
    _OrganisationSpec,
    _PlanSpec,
    parse_organisation,
    parse_plan,
)
from workflows.common import change_stamp
from workflows.models import (
    Aspect,
    CatalogueSource,
    Department,
    LeaderRole,
    Measure,
    Organisation,
    OrganisationLevel,
    StepRole,
    StepTemplate,
)

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

# Steps whose position changes are parked above this offset first, because positions are
# unique per measure and two steps swapping places would otherwise collide midway.
_PARKING_OFFSET = 10_000


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


LineLoader.add_constructor("tag:yaml.org,2002:map", LineLoader.construct_located_mapping)
LineLoader.add_constructor("tag:yaml.org,2002:seq", LineLoader.construct_located_sequence)


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
    organisation_spec = parse_organisation(Path(organisation_path))
    plan_spec = parse_plan(Path(plan_path), organisation_spec)
    return catalogue_apply(plan_spec, organisation_spec)


def catalogue_apply(plan_spec: _PlanSpec, organisation_spec: _OrganisationSpec) -> LoadResult:
    """Write checked specs in one transaction (the YAML and the workbook loaders share it)."""
    tally = _Tally()
    with transaction.atomic():
        organisation = _apply_organisation(organisation_spec, tally)
        _apply_plan(plan_spec, organisation, tally)
        _apply_source(plan_spec, organisation_spec, tally)
        warnings = _left_alone(plan_spec, organisation, organisation_spec)
        change_stamp.bump_on_commit()  # not audited; the dashboard shows the catalogue
    return LoadResult(
        aspects=len(plan_spec.aspects),
        measures=len(plan_spec.measures),
        departments=len(organisation_spec.departments),
        leader_roles=len(organisation_spec.leader_roles),
        rows={kind: dict(counts) for kind, counts in tally.rows.items()},
        warnings=warnings,
    )
