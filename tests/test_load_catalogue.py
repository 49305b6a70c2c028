"""`manage.py load_catalogue`: the default load, idempotence, explicit files and bad files."""

import hashlib
from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from workflows.catalogue import loader as catalogue_module
from workflows.catalogue.loader import LoadResult, catalogue_load
from workflows.catalogue.reading import CatalogueError
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

PLAN = Path(settings.DEFAULT_PLAN_FILE)
ORGANISATION = Path(settings.DEFAULT_ORGANISATION_FILE)
FIRST_SUMMARY = (
    "7 aspects, 30 measures, 14 departments, 11 leader roles (created 269, updated 0, unchanged 0)"
)
SECOND_SUMMARY = (
    "7 aspects, 30 measures, 14 departments, 11 leader roles (created 0, updated 0, unchanged 269)"
)
NO_CHANGES = "No changes: the catalogue is already up to date."


def load(*files: Path) -> tuple[list[str], str]:
    """Run the command; returns (stdout lines, stderr)."""
    out, err = StringIO(), StringIO()
    call_command("load_catalogue", *[str(f) for f in files], stdout=out, stderr=err)
    return out.getvalue().splitlines(), err.getvalue()


def snapshot() -> dict:
    """Row counts plus a hash of every measure's and step's content, to compare before/after."""
    measures = Measure.objects.order_by("code").values_list(
        "code", "title_en", "position", "lead_department__key", "supervising_leader__key"
    )
    steps = StepTemplate.objects.order_by("measure__code", "position").values_list(
        "measure__code", "position", "key", "title_en", "kind", "role__key", "working_days"
    )
    return {
        "counts": {
            model.__name__: model.objects.count()
            for model in (
                OrganisationLevel,
                Organisation,
                Department,
                LeaderRole,
                StepRole,
                Aspect,
                Measure,
                StepTemplate,
                CatalogueSource,
            )
        },
        "measures": hashlib.sha256(repr(list(measures)).encode()).hexdigest(),
        "steps": hashlib.sha256(repr(list(steps)).encode()).hexdigest(),
        "source": list(CatalogueSource.objects.values_list("plan_sha256", "organisation_sha256")),
    }


def edited_copies(
    tmp_path: Path, *, which: str, anchor: str, old: str, new: str
) -> tuple[Path, Path, str, int]:
    """Copies of both default files in tmp_path, with `old` -> `new` once after `anchor`.

    `which` is "plan" or "organisation"; returns the plan path, the organisation path, the
    edited text and the 1-based line where the edit starts.
    """
    plan, organisation = tmp_path / PLAN.name, tmp_path / ORGANISATION.name
    plan.write_text(PLAN.read_text(encoding="utf-8"), encoding="utf-8")
    organisation.write_text(ORGANISATION.read_text(encoding="utf-8"), encoding="utf-8")
    target = plan if which == "plan" else organisation
    text = target.read_text(encoding="utf-8")
    start = text.index(anchor) if anchor else 0
    at = text.index(old, start)
    text = text[:at] + new + text[at + len(old) :]
    target.write_text(text, encoding="utf-8")
    return plan, organisation, text, text.count("\n", 0, at) + 1


def line_of(text: str, needle: str, after: str = "") -> int:
    """1-based line of the first `needle` at or after `after`."""
    start = text.index(after) if after else 0
    return text.count("\n", 0, text.index(needle, start)) + 1


@pytest.fixture
def loaded(db):
    """The default catalogue, loaded once by the command."""
    load()


# --------------------------------------------------------------------------- default load


@pytest.mark.django_db
def test_default_load_creates_the_whole_catalogue():
    load()

    assert Aspect.objects.count() == 7
    assert Measure.objects.count() == 30
    assert Department.objects.count() == 14
    assert LeaderRole.objects.count() == 11
    assert StepRole.objects.count() == 5
    assert OrganisationLevel.objects.count() == 8
    assert StepTemplate.objects.count() == 192
    assert CatalogueSource.objects.count() == 1


@pytest.mark.django_db
def test_default_load_prints_one_summary_line():
    lines, errors = load()

    assert lines == [FIRST_SUMMARY]
    assert errors == ""


@pytest.mark.django_db
def test_national_organisation_is_created_and_owns_departments_and_leader_roles(loaded):
    national = Organisation.objects.get()

    assert national.code == "acftu"
    assert national.title_en == "All-China Federation of Trade Unions"
    assert national.title_zh == "中华全国总工会"
    assert national.level.key == "national"
    assert national.level.rank == 1
    assert national.parent is None
    assert Organisation.national() == national
    assert set(Department.objects.values_list("organisation", flat=True)) == {national.pk}
    assert set(LeaderRole.objects.values_list("organisation", flat=True)) == {national.pk}


@pytest.mark.django_db
def test_levels_are_ordered_by_rank(loaded):
    keys = list(OrganisationLevel.objects.values_list("key", flat=True))

    assert keys[0] == "national"
    assert keys[-1] == "enterprise"
    assert OrganisationLevel.objects.get(key="township").rank == 6


@pytest.mark.django_db
def test_leader_roles_keep_supervision_and_escalation_chain(loaded):
    chairman = LeaderRole.objects.get(key="chairman")
    first_secretary = LeaderRole.objects.get(key="first_secretary")
    office = LeaderRole.objects.get(key="secretary_office_research")

    assert chairman.reports_to is None
    assert first_secretary.reports_to == chairman
    assert first_secretary.person_name == "Chen Gang"
    assert first_secretary.assignment == "by-office"
    assert set(first_secretary.supervises.values_list("key", flat=True)) == {"secretariat"}
    assert office.reports_to == first_secretary
    assert set(office.supervises.values_list("key", flat=True)) == {
        "general_office",
        "research_office",
    }
    assert LeaderRole.objects.get(key="discipline_team_leader").person_name == ""


@pytest.mark.django_db
def test_step_roles_resolve_to_departments(loaded):
    research = StepRole.objects.get(key="research_office")
    staff = StepRole.objects.get(key="lead_department_staff")

    assert research.department_key == "research_office"
    assert research.escalates_to == "secretary_office_research"
    assert staff.department_key == ""
    assert staff.escalates_to == "lead_department_head"


@pytest.mark.django_db
def test_aspects_keep_order_and_provenance(loaded):
    aspects = list(Aspect.objects.values_list("code", "position", "provenance"))

    assert [code for code, _, _ in aspects] == ["1", "2", "3", "4", "5", "6", "7"]
    assert [position for _, position, _ in aspects] == [1, 2, 3, 4, 5, 6, 7]
    assert Aspect.objects.get(code="3").provenance == "article-text"
    assert Aspect.objects.get(code="4").provenance == "article-goal"
    assert Aspect.objects.get(code="2").title_zh_status == "translation"


@pytest.mark.django_db
def test_measure_fields_and_references_come_from_the_file(loaded):
    measure = Measure.objects.get(code="1.5")

    assert measure.aspect.code == "1"
    assert measure.position == 5
    assert measure.title_en == "Convert business units run by the union system into enterprises"
    assert measure.provenance == "article-text"
    assert measure.lead_department.key == "finance"
    assert set(measure.partner_departments.values_list("key", flat=True)) == {
        "general_office",
        "fund_review_committee",
    }
    assert measure.supervising_leader.key == "secretary_finance_international"
    assert measure.applies_to_levels == ["national", "provincial"]
    assert measure.target_months == 18
    assert measure.basis.startswith("We will do a good job in transforming")
    assert measure.summary_en.startswith("List the business-type units")
    assert measure.actions == [
        "Convert union-run business units into enterprises"
        " (corporatisation; reading to be confirmed)"
    ]
    assert Measure.objects.get(code="4.1").actions == []
    assert Measure.objects.get(code="4.1").is_placeholder
    assert Measure.objects.get(code="2.1").position == 1


@pytest.mark.django_db
def test_measure_2_1_has_eight_steps_in_order(loaded):
    steps = list(Measure.objects.get(code="2.1").steps.values_list("position", "key"))

    assert steps == [
        (1, "draft_plan"),
        (2, "head_approval"),
        (3, "leader_approval"),
        (4, "implementation_phase_1"),
        (5, "midterm_review"),
        (6, "implementation_phase_2"),
        (7, "acceptance_review"),
        (8, "sign_off"),
    ]


@pytest.mark.django_db
def test_measure_1_4_has_secretariat_approval(loaded):
    step = Measure.objects.get(code="1.4").steps.get(key="secretariat_approval")

    assert step.position == 4
    assert step.kind == "approve"
    assert step.role.key == "secretariat"
    assert step.working_days == 5
    assert step.title_zh == "书记处审议通过调整方案"
    assert Measure.objects.get(code="1.4").steps.count() == 7
    assert Measure.objects.get(code="1.1").steps.count() == 6


@pytest.mark.django_db
def test_catalogue_source_keeps_both_metas_and_file_hashes(loaded):
    source = CatalogueSource.objects.get()

    assert source.plan_title_en.startswith("Implementation Plan for Deepening the Reform")
    assert source.plan_title_zh == "深化工会改革创新实施方案"
    assert source.issuer.startswith("All-China Federation of Trade Unions")
    assert source.issued_on == date(2018, 9, 25)
    assert source.plan_meta["counts"]["measures"] == 30
    assert "article-goal" in source.provenance_notes
    assert source.organisation_meta["escalation_chain"][-1] == "chairman"
    assert source.plan_sha256 == hashlib.sha256(PLAN.read_bytes()).hexdigest()
    assert source.organisation_sha256 == hashlib.sha256(ORGANISATION.read_bytes()).hexdigest()


@pytest.mark.django_db
def test_service_returns_counts_per_kind():
    result = catalogue_load(plan_path=PLAN, organisation_path=ORGANISATION)

    assert isinstance(result, LoadResult)
    assert result.rows["steps"] == {"created": 192}
    assert result.rows["leader roles"] == {"created": 11}
    assert (result.created, result.updated, result.unchanged) == (269, 0, 0)
    assert result.changed
    assert result.summary() == FIRST_SUMMARY


# --------------------------------------------------------------------------- re-runs and edits


@pytest.mark.django_db
def test_second_run_changes_nothing_and_says_so(loaded):
    before = snapshot()
    loaded_at = CatalogueSource.objects.get().loaded_at

    lines, _ = load()

    assert lines == [NO_CHANGES, SECOND_SUMMARY]
    assert snapshot() == before
    assert CatalogueSource.objects.get().loaded_at == loaded_at


@pytest.mark.django_db
def test_second_run_writes_no_rows(loaded):
    with CaptureQueriesContext(connection) as queries:
        load()

    writes = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []


@pytest.mark.django_db
def test_explicit_file_arguments_are_loaded(tmp_path):
    plan, organisation = tmp_path / "official-plan.yaml", tmp_path / "official-org.yaml"
    plan.write_bytes(PLAN.read_bytes())
    organisation.write_bytes(ORGANISATION.read_bytes())

    lines, _ = load(plan, organisation)

    assert lines == [FIRST_SUMMARY]
    assert Measure.objects.count() == 30


@pytest.mark.django_db
def test_plan_file_alone_uses_the_default_organisation_file(tmp_path):
    plan = tmp_path / "official-plan.yaml"
    plan.write_text(
        PLAN.read_text(encoding="utf-8").replace(
            "title_en: Build smart trade unions", "title_en: Build smart unions"
        ),
        encoding="utf-8",
    )

    lines, _ = load(plan)

    assert lines == [FIRST_SUMMARY]
    assert Aspect.objects.get(code="2").title_en == "Build smart unions"
    assert (
        CatalogueSource.objects.get().plan_sha256 == hashlib.sha256(plan.read_bytes()).hexdigest()
    )


@pytest.mark.django_db
def test_editing_one_measure_title_updates_exactly_that_measure(loaded, tmp_path):
    titles_before = dict(Measure.objects.values_list("code", "title_en"))
    plan, organisation, _, _ = edited_copies(
        tmp_path,
        which="plan",
        anchor='- code: "2.2"',
        old="title_en: Build a real-name",
        new="title_en: Build a verified real-name",
    )

    lines, _ = load(plan, organisation)

    # The measure and the catalogue source row (its plan hash changed) are the two updates.
    assert lines == [
        "7 aspects, 30 measures, 14 departments, 11 leader roles "
        "(created 0, updated 2, unchanged 267)"
    ]
    titles_after = dict(Measure.objects.values_list("code", "title_en"))
    assert titles_after.pop("2.2").startswith("Build a verified real-name")
    titles_before.pop("2.2")
    assert titles_after == titles_before


@pytest.mark.django_db
def test_editing_one_measure_reports_per_kind_counts(loaded, tmp_path):
    plan, organisation, _, _ = edited_copies(
        tmp_path,
        which="plan",
        anchor='- code: "2.2"',
        old="title_en: Build a real-name",
        new="title_en: Build a verified real-name",
    )

    result = catalogue_load(plan_path=plan, organisation_path=organisation)

    assert result.rows["measures"] == {"updated": 1, "unchanged": 29}
    assert result.rows["catalogue source"] == {"updated": 1}
    assert result.rows["steps"] == {"unchanged": 192}


@pytest.mark.django_db
def test_step_missing_from_file_is_deleted_and_counts_as_a_measure_update(loaded, tmp_path):
    plan, organisation, _, _ = edited_copies(
        tmp_path,
        which="plan",
        anchor='- code: "2.1"',
        old=(
            "          - {key: midterm_review, title_en: Mid-term review by the Research Office,"
            " title_zh: 研究室中期评估, kind: review, role: research_office, working_days: 10}\n"
        ),
        new="",
    )

    result = catalogue_load(plan_path=plan, organisation_path=organisation)

    steps = list(Measure.objects.get(code="2.1").steps.values_list("position", "key"))
    assert [key for _, key in steps] == [
        "draft_plan",
        "head_approval",
        "leader_approval",
        "implementation_phase_1",
        "implementation_phase_2",
        "acceptance_review",
        "sign_off",
    ]
    assert [position for position, _ in steps] == [1, 2, 3, 4, 5, 6, 7]
    assert result.rows["measures"] == {"updated": 1, "unchanged": 29}
    # The three steps after the removed one moved up a place.
    assert result.rows["steps"] == {"updated": 3, "unchanged": 188}


@pytest.mark.django_db
def test_swapping_two_steps_reorders_them(loaded, tmp_path):
    head = (
        "          - {key: head_approval, title_en: Department head approves the plan,"
        " title_zh: 牵头部门负责人审核方案, kind: approve, role: lead_department_head,"
        " working_days: 5}\n"
    )
    leader = (
        "          - {key: leader_approval, title_en: Supervising leader approves the plan,"
        " title_zh: 分管领导审批方案, kind: approve, role: supervising_leader, working_days: 5}\n"
    )
    plan, organisation, _, _ = edited_copies(
        tmp_path, which="plan", anchor='- code: "1.1"', old=head + leader, new=leader + head
    )

    result = catalogue_load(plan_path=plan, organisation_path=organisation)

    keys = list(Measure.objects.get(code="1.1").steps.values_list("key", flat=True))
    assert keys[1:3] == ["leader_approval", "head_approval"]
    assert result.rows["steps"] == {"updated": 2, "unchanged": 190}


@pytest.mark.django_db
def test_measure_missing_from_file_is_left_alone_with_a_warning(loaded):
    template = Measure.objects.get(code="1.1")
    Measure.objects.create(
        code="9.9",
        aspect=template.aspect,
        title_en="Added by an administrator",
        provenance="article-text",
        lead_department=template.lead_department,
        supervising_leader=template.supervising_leader,
        target_months=6,
    )

    lines, errors = load()

    assert Measure.objects.filter(code="9.9").exists()
    assert "1 measures in the database are not in the files and were left alone: 9.9" in errors
    assert lines == [NO_CHANGES, SECOND_SUMMARY]


# --------------------------------------------------------------------------- bad files


@dataclass(frozen=True)
class BadFile:
    """One broken copy of a default file and what the error must say about it."""

    which: str  # "plan" or "organisation"
    anchor: str  # the edit happens at the first `old` after this text
    old: str
    new: str
    field: str | None  # None for YAML syntax errors, which have no field
    message: str
    at: str = ""  # text on the reported line, when that is not the edited line

    @property
    def file_name(self) -> str:
        return (PLAN if self.which == "plan" else ORGANISATION).name


BAD_FILES = {
    "broken indentation": BadFile(
        "plan",
        '  - code: "2"',
        "    title_en: Build smart trade unions",
        "   title_en: Build smart trade unions",
        None,
        "invalid YAML",
    ),
    "duplicate yaml key": BadFile(
        "plan",
        '- code: "2.1"',
        "        target_months: 24\n",
        "        target_months: 24\n        target_months: 25\n",
        None,
        "duplicate key 'target_months'",
        at="target_months: 25",
    ),
    "missing lead_department": BadFile(
        "plan",
        '- code: "1.5"',
        "        lead_department: finance\n",
        "",
        "aspects[0].measures[4].lead_department",
        "required field is missing",
        at='- code: "1.5"',
    ),
    "misspelt field": BadFile(
        "plan",
        '- code: "2.1"',
        "lead_department: network_work",
        "lead_departmnet: network_work",
        "aspects[1].measures[0].lead_departmnet",
        "unknown field",
    ),
    "working_days not positive": BadFile(
        "plan",
        '- code: "2.1"',
        "working_days: 120}",
        "working_days: -5}",
        "aspects[1].measures[0].steps[3].working_days",
        "must be a positive whole number, not -5",
    ),
    "working_days not a number": BadFile(
        "plan",
        '- code: "2.1"',
        "working_days: 120}",
        "working_days: soon}",
        "aspects[1].measures[0].steps[3].working_days",
        "must be a positive whole number, not 'soon'",
    ),
    "target_months a boolean": BadFile(
        "plan",
        '- code: "2.1"',
        "target_months: 24",
        "target_months: yes",
        "aspects[1].measures[0].target_months",
        "must be a positive whole number, not True",
    ),
    "unknown step kind": BadFile(
        "plan",
        '- code: "1.4"',
        "kind: approve, role: secretariat",
        "kind: rubber_stamp, role: secretariat",
        "aspects[0].measures[3].steps[3].kind",
        "must be one of submit, approve, implement, review, sign_off, not 'rubber_stamp'",
    ),
    "unknown provenance": BadFile(
        "plan",
        '  - code: "3"',
        "provenance: article-text",
        "provenance: hearsay",
        "aspects[2].provenance",
        "must be one of article-text, article-goal",
    ),
    "unknown lead department": BadFile(
        "plan",
        '- code: "2.1"',
        "lead_department: network_work",
        "lead_department: no_such_dept",
        "aspects[1].measures[0].lead_department",
        "unknown department 'no_such_dept'",
    ),
    "unknown partner department": BadFile(
        "plan",
        '- code: "2.1"',
        "partner_departments: [general_office, organization_department]",
        "partner_departments: [general_office, no_such_dept]",
        "aspects[1].measures[0].partner_departments[1]",
        "unknown department 'no_such_dept'",
    ),
    "unknown supervising leader": BadFile(
        "plan",
        '- code: "2.1"',
        "supervising_leader: secretary_publicity_network",
        "supervising_leader: nobody",
        "aspects[1].measures[0].supervising_leader",
        "unknown leader role 'nobody'",
    ),
    "unknown step role": BadFile(
        "plan",
        '- code: "2.1"',
        "role: research_office",
        "role: auditor",
        "aspects[1].measures[0].steps[4].role",
        "unknown step role 'auditor'",
    ),
    "unknown level": BadFile(
        "plan",
        '- code: "2.1"',
        "applies_to_levels: [national, provincial]",
        "applies_to_levels: [national, planet]",
        "aspects[1].measures[0].applies_to_levels[1]",
        "unknown level 'planet'",
    ),
    "duplicate aspect code": BadFile(
        "plan",
        "aspects:",
        '  - code: "2"\n',
        '  - code: "1"\n',
        "aspects[1].code",
        "duplicate aspect code '1'",
    ),
    "duplicate measure code": BadFile(
        "plan",
        "aspects:",
        '      - code: "2.2"',
        '      - code: "2.1"',
        "aspects[1].measures[1].code",
        "duplicate measure code '2.1'",
    ),
    "duplicate step key": BadFile(
        "plan",
        '- code: "2.1"',
        "key: midterm_review",
        "key: draft_plan",
        "aspects[1].measures[0].steps[4].key",
        "duplicate step key 'draft_plan'",
    ),
    "unknown reports_to": BadFile(
        "organisation",
        "leader_roles:",
        "reports_to: chairman",
        "reports_to: emperor",
        "leader_roles[1].reports_to",
        "unknown leader role 'emperor'",
    ),
    "reports_to cycle": BadFile(
        "organisation",
        "leader_roles:",
        "reports_to: null",
        "reports_to: secretary_rights",
        "leader_roles[0].reports_to",
        "reports_to forms a cycle: chairman -> secretary_rights -> first_secretary -> chairman",
    ),
    "unknown supervised department": BadFile(
        "organisation",
        "  - key: secretary_rights",
        "supervises: [rights_protection]",
        "supervises: [no_such_dept]",
        "leader_roles[3].supervises[0]",
        "unknown department 'no_such_dept'",
    ),
    "unknown step role department": BadFile(
        "organisation",
        "step_roles:",
        "department: research_office",
        "department: no_such_dept",
        "step_roles[3].department",
        "unknown department 'no_such_dept'",
    ),
    "duplicate department key": BadFile(
        "organisation",
        "departments:",
        "  - key: research_office\n",
        "  - key: general_office\n",
        "departments[1].key",
        "duplicate department key 'general_office'",
    ),
    "duplicate leader role key": BadFile(
        "organisation",
        "leader_roles:",
        "  - key: secretary_grassroots\n",
        "  - key: secretary_rights\n",
        "leader_roles[4].key",
        "duplicate leader role key 'secretary_rights'",
    ),
    "duplicate level key": BadFile(
        "organisation",
        "levels:",
        "  - key: county\n",
        "  - key: prefecture\n",
        "levels[4].key",
        "duplicate level key 'prefecture'",
    ),
    "department without title": BadFile(
        "organisation",
        "  - key: finance",
        "    title_en: Finance Department\n",
        "",
        "departments[8].title_en",
        "required field is missing",
        at="  - key: finance",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_names_file_line_and_field_and_changes_nothing(loaded, tmp_path, case):
    before = snapshot()
    plan, organisation, text, edit_line = edited_copies(
        tmp_path, which=case.which, anchor=case.anchor, old=case.old, new=case.new
    )
    expected_line = line_of(text, case.at, after=case.anchor) if case.at else edit_line

    with pytest.raises(CommandError) as excinfo:
        load(plan, organisation)

    message = str(excinfo.value)
    assert message.startswith(f"{case.file_name} line {expected_line}: ")
    if case.field:
        assert f": {case.field}: " in message
    assert case.message in message
    assert excinfo.value.returncode != 0
    assert snapshot() == before


def test_error_message_format():
    error = CatalogueError(
        "unknown department 'foo'",
        file=Path("/x/reform-plan-2018.yaml"),
        line=214,
        field="measures[3].lead_department",
    )

    assert str(error) == (
        "reform-plan-2018.yaml line 214: measures[3].lead_department: unknown department 'foo'"
    )
    assert (error.line, error.field) == (214, "measures[3].lead_department")


@pytest.mark.django_db
def test_bad_file_on_an_empty_database_creates_nothing(tmp_path):
    plan, organisation, _, _ = edited_copies(
        tmp_path,
        which="plan",
        anchor='- code: "7.3"',
        old="role: secretariat",
        new="role: nobody",
    )

    with pytest.raises(CommandError, match=r"reform-plan-2018\.yaml line \d+: .*\.role: "):
        load(plan, organisation)

    assert all(count == 0 for count in snapshot()["counts"].values())


@pytest.mark.django_db
def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no-such-plan.yaml: cannot read"):
        load(tmp_path / "no-such-plan.yaml")

    assert Measure.objects.count() == 0


@pytest.mark.django_db
def test_top_level_must_be_a_mapping(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("- just\n- a list\n", encoding="utf-8")

    with pytest.raises(CommandError, match="plan.yaml line 1: the file must hold a YAML mapping"):
        load(plan)


@pytest.mark.django_db
def test_failure_while_writing_rolls_back_everything(monkeypatch):
    def fail(*args, **kwargs):
        raise CatalogueError("simulated failure", file=PLAN)

    # The organisation rows are written before the plan, so they must be rolled back too.
    monkeypatch.setattr(catalogue_module, "_apply_plan", fail)

    with pytest.raises(CommandError, match="simulated failure"):
        load()

    assert all(count == 0 for count in snapshot()["counts"].values())


@pytest.mark.django_db
def test_failure_while_writing_after_a_good_load_keeps_the_good_data(loaded, tmp_path, monkeypatch):
    before = snapshot()
    plan, organisation, _, _ = edited_copies(
        tmp_path,
        which="plan",
        anchor='- code: "2.2"',
        old="title_en: Build a real-name",
        new="title_en: Build a verified real-name",
    )

    def fail(*args, **kwargs):
        raise CatalogueError("simulated failure", file=plan)

    # The measure title is saved before the source row, so the rollback must undo it.
    monkeypatch.setattr(catalogue_module, "_apply_source", fail)

    with pytest.raises(CommandError, match="simulated failure"):
        load(plan, organisation)

    assert snapshot() == before
    assert Measure.objects.get(code="2.2").title_en.startswith("Build a real-name")


@pytest.mark.django_db
def test_verbosity_zero_prints_nothing_and_verbosity_two_adds_counts_per_kind():
    out = StringIO()
    call_command("load_catalogue", verbosity=0, stdout=out)
    assert out.getvalue() == ""

    out = StringIO()
    call_command("load_catalogue", verbosity=2, stdout=out)
    lines = out.getvalue().splitlines()
    assert "  steps: unchanged 192" in lines
    assert lines[-2:] == [NO_CHANGES, SECOND_SUMMARY]
