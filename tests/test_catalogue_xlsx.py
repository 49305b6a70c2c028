"""The catalogue as an Excel workbook: export, load it back (YAML -> XLSX -> load gives the same
catalogue), bad workbooks change nothing and name the sheet, row and column, and the admin's
import and export."""

import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.urls import reverse
from openpyxl import load_workbook

from workflows.catalogue.reading import plain_value, read_yaml
from workflows.catalogue.xlsx_export import catalogue_export
from workflows.catalogue.xlsx_import import workbook_read
from workflows.catalogue.xlsx_layout import SHEETS
from workflows.models import (
    Aspect,
    AuditEvent,
    CatalogueSource,
    Department,
    LeaderRole,
    Measure,
    Organisation,
    OrganisationLevel,
    StepRole,
    StepTemplate,
)

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    """Everything the catalogue holds, keyed by codes and keys (never by database ids)."""
    national = Organisation.national()
    measures = Measure.objects.select_related(
        "aspect", "lead_department", "supervising_leader"
    ).prefetch_related("partner_departments")
    roles = LeaderRole.objects.filter(organisation=national).select_related("reports_to")
    source = CatalogueSource.objects.get()
    return {
        "levels": sorted(
            OrganisationLevel.objects.values_list("key", "title_en", "title_zh", "rank")
        ),
        "departments": sorted(
            national.departments.values_list("key", "title_en", "title_zh", "name_check")
        ),
        "leader posts": sorted(
            (
                r.key,
                r.title_en,
                r.title_zh,
                r.person_name,
                r.assignment,
                r.reports_to.key if r.reports_to else None,
                tuple(sorted(r.supervises.values_list("key", flat=True))),
            )
            for r in roles
        ),
        "step roles": sorted(
            StepRole.objects.values_list(
                "key", "title_en", "title_zh", "department_key", "escalates_to"
            )
        ),
        "aspects": sorted(
            Aspect.objects.values_list(
                "code", "position", "title_en", "title_zh", "title_zh_status", "provenance"
            )
        ),
        "measures": sorted(
            (
                m.code,
                m.aspect.code,
                m.position,
                m.title_en,
                m.title_zh,
                m.summary_en,
                tuple(m.actions),
                m.basis,
                m.provenance,
                m.lead_department.key,
                tuple(sorted(d.key for d in m.partner_departments.all())),
                m.supervising_leader.key,
                tuple(m.applies_to_levels),
                m.target_months,
            )
            for m in measures
        ),
        "steps": sorted(
            StepTemplate.objects.values_list(
                "measure__code",
                "position",
                "key",
                "title_en",
                "title_zh",
                "kind",
                "role__key",
                "working_days",
            )
        ),
        "source": (
            source.plan_title_en,
            source.plan_title_zh,
            source.issuer,
            source.issued_on,
            source.plan_meta,
            source.organisation_meta,
        ),
    }


class Rollback(Exception):
    pass


@pytest.fixture
def workbook(catalogue, tmp_path) -> Path:
    path = tmp_path / "catalogue.xlsx"
    call_command("export_catalogue", str(path), verbosity=0)
    return path


def edit(path: Path, change) -> Path:
    """Open the workbook, let `change(workbook)` edit it, save it under a new name."""
    book = load_workbook(path)
    change(book)
    out = path.with_name("edited.xlsx")
    book.save(out)
    return out


def row_of(sheet, column: int, value) -> int:
    return next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, column).value == value)


# --------------------------------------------------------------------------- round trip


def test_yaml_to_xlsx_to_load_gives_the_same_catalogue_on_an_empty_database(db, tmp_path):
    with pytest.raises(Rollback), transaction.atomic():
        call_command("load_catalogue", verbosity=0)  # the shipped YAML
        from_yaml = snapshot()
        content = catalogue_export()
        raise Rollback  # back to an empty database
    assert not Measure.objects.exists()
    path = tmp_path / "plan.xlsx"
    path.write_bytes(content)

    call_command("load_catalogue", str(path), verbosity=0)

    assert snapshot() == from_yaml
    assert CatalogueSource.objects.get().plan_sha256 == hashlib.sha256(content).hexdigest()


def test_loading_the_workbook_puts_back_what_was_changed_and_then_changes_nothing(workbook):
    before = snapshot()
    Measure.objects.filter(code="2.2").update(title_en="Edited in the admin")
    Measure.objects.get(code="1.1").partner_departments.clear()
    StepTemplate.objects.filter(measure__code="3.1", position=1).update(working_days=99)
    Department.objects.filter(key="finance").update(title_zh="改过")
    LeaderRole.objects.get(key="chairman").supervises.clear()
    assert snapshot() != before

    out = io.StringIO()
    call_command("load_catalogue", str(workbook), verbosity=2, stdout=out)
    assert snapshot() == before
    assert "measures: updated 2, unchanged 28" in out.getvalue()

    out = io.StringIO()
    call_command("load_catalogue", str(workbook), stdout=out)
    assert out.getvalue().startswith("No changes")


def test_the_workbook_holds_the_same_data_the_yaml_loader_checks(workbook):
    (plan, _), (organisation, _) = workbook_read(workbook)
    yaml_plan, _ = read_yaml(Path(settings.DEFAULT_PLAN_FILE))
    yaml_organisation, _ = read_yaml(Path(settings.DEFAULT_ORGANISATION_FILE))
    many_to_many = ("partner_departments", "supervises")  # the database keeps no order

    def normal(value, key=None):
        """Blank is absent (a cell holds no "null"); many-to-many key lists are sorted."""
        if isinstance(value, dict):
            return {k: normal(v, k) for k, v in value.items() if v not in (None, "", [])}
        if isinstance(value, list):
            items = [normal(v) for v in value]
            return sorted(items) if key in many_to_many else items
        return value

    assert normal(plain_value(plan)) == normal(plain_value(yaml_plan))
    assert normal(plain_value(organisation)) == normal(plain_value(yaml_organisation))


def test_the_layout_an_office_can_read(workbook):
    book = load_workbook(workbook)
    assert book.sheetnames == ["Read me 说明", *[sheet.title for sheet in SHEETS]]
    measures = book["Measures 举措"]
    assert [c.value for c in measures[1]][:5] == [
        "Aspect / 所属方面",
        "Code / 编号",
        "Title (English) / 标题（英文）",
        "Title (Chinese) / 标题（中文）",
        "Lead department / 牵头部门",
    ]
    for sheet in SHEETS:
        assert book[sheet.title].freeze_panes == "A2"
        assert book[sheet.title]["A1"].font.bold
    assert measures.column_dimensions["C"].width == 48
    row = row_of(measures, 2, "2.2")
    assert measures.cell(row, 1).value == "2" and measures.cell(row, 1).data_type == "s"
    assert "\n" in measures.cell(row_of(measures, 2, "1.1"), 12).value  # actions, one a line
    steps = book["Steps 步骤"]
    assert steps.max_row == 1 + StepTemplate.objects.count()


# --------------------------------------------------------------------------- bad workbooks


def _set(sheet_title, key_column, key, column, value):
    def change(book):
        sheet = book[sheet_title]
        sheet.cell(row_of(sheet, key_column, key), column).value = value

    return change


BAD = {
    "unknown department": (
        _set("Measures 举措", 2, "2.2", 5, "nope"),
        "sheet 'Measures 举措', row {row}, column E (Lead department / 牵头部门): "
        "unknown department 'nope'",
        ("Measures 举措", 2, "2.2"),
    ),
    "working days not a number": (
        _set("Steps 步骤", 2, "draft_plan", 7, "many"),
        "sheet 'Steps 步骤', row 2, column G (Working days / 工作日): "
        "must be a positive whole number, not 'many'",
        None,
    ),
    "a step of an unknown measure": (
        _set("Steps 步骤", 2, "draft_plan", 1, "9.9"),
        "sheet 'Steps 步骤', row 2, column A (Measure / 所属举措): unknown measure '9.9'",
        None,
    ),
    "duplicate department key": (
        _set("Departments 部门", 1, "finance", 1, "general_office"),
        "sheet 'Departments 部门', row {row}, column A (Key / 键): duplicate department key "
        "'general_office' (first at sheet 'Departments 部门', row 2, column A (Key / 键))",
        ("Departments 部门", 1, "finance"),
    ),
    "unknown step kind": (
        _set("Steps 步骤", 2, "draft_plan", 5, "dance"),
        "sheet 'Steps 步骤', row 2, column E (Kind / 类型): must be one of submit, approve, "
        "implement, review, sign_off, not 'dance'",
        None,
    ),
    "a cycle of leader posts": (
        _set("Leader posts 领导岗位", 1, "chairman", 7, "first_secretary"),
        "reports_to forms a cycle",
        None,
    ),
    "unknown column": (
        lambda book: book["Levels 层级"].cell(1, 5, "Colour"),
        "sheet 'Levels 层级', row 1, column E (Colour): unknown column (expected: Key / 键, ",
        None,
    ),
    "missing sheet": (
        lambda book: book.remove(book["Levels 层级"]),
        "catalogue.xlsx: the sheet 'Levels 层级' is missing",
        None,
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_workbook_changes_nothing_and_names_the_sheet_row_and_column(workbook, case):
    change, message, located = BAD[case]

    def change_and_retitle(book):
        # A good edit in the same file: it must not be applied either.
        _set("Measures 举措", 2, "1.1", 3, "A title nobody will see")(book)
        if located:
            sheet = book[located[0]]
            change.row = row_of(sheet, located[1], located[2])
        change(book)

    before = snapshot()
    path = edit(workbook, change_and_retitle)
    path = path.rename(path.with_name("catalogue.xlsx"))
    with pytest.raises(CommandError) as error:
        call_command("load_catalogue", str(path), verbosity=0)
    expected = message.format(row=getattr(change, "row", ""))
    assert expected in str(error.value)
    assert str(error.value).startswith("catalogue.xlsx: ")
    assert snapshot() == before


def test_a_file_that_is_not_a_workbook_is_refused(catalogue, tmp_path):
    path = tmp_path / "plan.xlsx"
    path.write_text("code,title\n")
    with pytest.raises(CommandError, match=r"plan.xlsx: not an Excel workbook \(\.xlsx\)"):
        call_command("load_catalogue", str(path))
    with pytest.raises(CommandError, match="holds the organisation too"):
        call_command("load_catalogue", str(path), settings.DEFAULT_ORGANISATION_FILE)
    with pytest.raises(CommandError, match=r"must end in \.xlsx"):
        call_command("export_catalogue", str(tmp_path / "plan.csv"))


# --------------------------------------------------------------------------- the admin


def test_the_admin_exports_and_imports_the_workbook_and_audits_both(client, demo_users, tmp_path):
    client.force_login(demo_users("admin"))
    changelist = client.get(reverse("admin:workflows_cataloguesource_changelist"))
    assert b"Import from Excel" in changelist.content and b"Export to Excel" in changelist.content

    response = client.get(reverse("admin:workflows_cataloguesource_workbook_export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    exported = AuditEvent.objects.get(verb="catalogue_exported")
    assert exported.actor.username == "admin"

    path = tmp_path / "office.xlsx"
    path.write_bytes(response.content)
    path = edit(path, _set("Measures 举措", 2, "2.2", 3, "Retitled by the office"))
    url = reverse("admin:workflows_cataloguesource_workbook_import")
    assert client.get(url).status_code == 200
    with path.open("rb") as upload:
        response = client.post(url, {"file": upload})
    assert response.status_code == 302
    assert Measure.objects.get(code="2.2").title_en == "Retitled by the office"
    imported = AuditEvent.objects.get(verb="catalogue_imported")
    assert imported.data["file"] == "edited.xlsx"
    assert imported.data["rows"]["measures"] == {"updated": 1, "unchanged": 29}


def test_a_bad_upload_in_the_admin_shows_where_and_changes_nothing(client, demo_users, tmp_path):
    client.force_login(demo_users("admin"))
    path = tmp_path / "office.xlsx"
    path.write_bytes(catalogue_export())

    def change(book):
        _set("Measures 举措", 2, "2.1", 3, "Would be applied")(book)
        _set("Steps 步骤", 2, "draft_plan", 6, "nobody")(book)

    path = edit(path, change)
    before = snapshot()
    with path.open("rb") as upload:
        response = client.post(
            reverse("admin:workflows_cataloguesource_workbook_import"), {"file": upload}
        )
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "edited.xlsx: sheet &#x27;Steps 步骤&#x27;, row 2, column F (Step role / 步骤角色): "
        "unknown step role &#x27;nobody&#x27;" in page
    )
    assert snapshot() == before
    assert not AuditEvent.objects.filter(verb="catalogue_imported").exists()


def test_auditors_may_export_but_never_import(client, demo_users):
    auditor = demo_users("auditor")
    auditor.is_staff = True
    auditor.save()
    client.force_login(auditor)
    export = client.get(reverse("admin:workflows_cataloguesource_workbook_export"))
    assert export.status_code == 200
    changelist = client.get(reverse("admin:workflows_cataloguesource_changelist"))
    assert b"Import from Excel" not in changelist.content
    assert client.get(reverse("admin:workflows_cataloguesource_workbook_import")).status_code == 403
