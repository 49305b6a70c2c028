"""Subordinate organisations: the CSV/XLSX import (all or nothing, every bad line named), the
national departments and leader roles each new one receives, and the demo federations."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from workflows.models import Department, LeaderRole, Organisation

pytestmark = pytest.mark.django_db


def write_csv(tmp_path, text: str):
    path = tmp_path / "organisations.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_import_with_bad_rows_imports_nothing_and_names_each_bad_line(catalogue, tmp_path):
    before = Organisation.objects.count()
    path = write_csv(
        tmp_path,
        "code,name_en,name_zh,level,parent\n"
        "beijing,Beijing FTU,北京市总工会,provincial,acftu\n"  # line 2: good
        "bad code,Spaces,,provincial,acftu\n"  # line 3: code is not a slug
        "tianjin,,,provincial,acftu\n"  # line 4: no name at all
        "hebei,Hebei FTU,,planetary,acftu\n"  # line 5: unknown level
        "shijiazhuang,Shijiazhuang FTU,,prefecture,atlantis\n"  # line 6: unknown parent
        "beijing,Beijing again,,provincial,acftu\n"  # line 7: duplicate code
        "haidian,Haidian FTU,,provincial,beijing\n"  # line 8: provincial below provincial
        "chaoyang,Chaoyang FTU,,county,beijing\n",  # line 9: good (parent on line 2)
    )
    with pytest.raises(CommandError) as refused:
        call_command("import_organisations", str(path))
    message = str(refused.value)
    assert "Nothing was imported" in message
    for expected in (
        "line 3, code: 'bad code' may hold only letters",
        "line 4, name: give name_en or name_zh",
        "line 5, level: unknown level 'planetary'",
        "line 6, parent: no organisation 'atlantis'",
        "line 7, code: 'beijing' is already on line 2",
        "line 8, level: a provincial organisation cannot sit below 'beijing' (provincial)",
    ):
        assert expected in message, message
    assert "line 2" not in message.replace("on line 2", "")
    assert "line 9" not in message
    assert Organisation.objects.count() == before
    assert not Department.objects.filter(organisation__code="beijing").exists()


def test_a_good_csv_creates_the_tree_with_the_national_roles_and_no_holders(catalogue, tmp_path):
    national = Organisation.national()
    # Child before parent in the file: the import orders them itself.
    path = write_csv(
        tmp_path,
        "Code,Title_ZH,Title_EN,Level,Parent\n"
        "shenzhen,深圳市总工会,,prefecture,guangdong\n"
        "guangdong,广东省总工会,Guangdong FTU,provincial,acftu\n",
    )
    out = io.StringIO()
    call_command("import_organisations", str(path), stdout=out)
    assert "2 created, 0 updated, 0 unchanged" in out.getvalue()
    guangdong = Organisation.objects.get(code="guangdong")
    shenzhen = Organisation.objects.get(code="shenzhen")
    assert shenzhen.parent == guangdong and guangdong.parent == national
    assert shenzhen.path == f"{guangdong.path}{shenzhen.pk}/"
    assert shenzhen.title_en == "深圳市总工会"  # only a Chinese name was given
    for organisation in (guangdong, shenzhen):
        assert set(organisation.departments.values_list("key", "title_en")) == set(
            national.departments.values_list("key", "title_en")
        )
        assert set(organisation.leader_roles.values_list("key", flat=True)) == set(
            national.leader_roles.values_list("key", flat=True)
        )
        assert not organisation.departments.filter(head__isnull=False).exists()
        assert not organisation.leader_roles.filter(holder__isnull=False).exists()
    # The escalation chain and supervision map onto the organisation's own copies.
    grassroots = LeaderRole.objects.get(organisation=guangdong, key="secretary_grassroots")
    assert grassroots.reports_to.organisation == guangdong
    assert grassroots.reports_to.key == "first_secretary"
    assert [d.organisation for d in grassroots.supervises.all()] == [guangdong]

    # Importing the same file again changes nothing; a new title is an update.
    out = io.StringIO()
    call_command("import_organisations", str(path), stdout=out)
    assert "0 created, 0 updated, 2 unchanged" in out.getvalue()


def test_an_xlsx_file_imports_too(catalogue, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["code", "name", "name_zh", "level", "parent code"])
    sheet.append(["sichuan", "Sichuan FTU", "四川省总工会", "provincial", "acftu"])
    sheet.append(["chengdu", "Chengdu FTU", None, "prefecture", "sichuan"])
    sheet.append(["mianyang", None, None, "prefecture", "sichuan"])
    path = tmp_path / "organisations.xlsx"
    workbook.save(path)
    with pytest.raises(CommandError) as refused:
        call_command("import_organisations", str(path))
    assert "line 4, name: give name_en or name_zh" in str(refused.value)
    assert not Organisation.objects.filter(code="sichuan").exists()

    sheet.delete_rows(4)
    workbook.save(path)
    call_command("import_organisations", str(path), stdout=io.StringIO())
    chengdu = Organisation.objects.get(code="chengdu")
    assert chengdu.parent.code == "sichuan" and chengdu.level.key == "prefecture"
    assert chengdu.departments.count() == Organisation.national().departments.count()


def test_seed_demo_with_provinces_creates_federations_with_their_accounts(catalogue, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-provinces")
    out = io.StringIO()
    call_command("seed_demo", "--provinces", "2", stdout=out)
    provinces = Organisation.objects.filter(level__key="provincial").order_by("code")
    assert [o.code for o in provinces] == ["beijing", "shanghai"]
    users = get_user_model().objects
    coordinator = users.get(username="shanghai.coordinator")
    assert coordinator.profile.organisation.code == "shanghai"
    assert coordinator.check_password("demo-provinces")
    head = Department.objects.get(organisation__code="beijing", key="grassroots_work").head
    assert head.username == "beijing.grassroots_work.head"
    assert LeaderRole.objects.get(organisation__code="beijing", key="chairman").holder.username == (
        "beijing.chairman"
    )
    assert "shanghai.coordinator" in out.getvalue()
    # Running it again changes nothing.
    count = users.count()
    call_command("seed_demo", "--provinces", "2", stdout=io.StringIO())
    assert users.count() == count
    with pytest.raises(CommandError):
        call_command("seed_demo", "--provinces", "40", stdout=io.StringIO())
