"""What every page shares: the product's name (login, admin, error pages), menus that offer
only what the person may open, the refusal page that keeps the menu, the phone-ready rows,
scripts only where they are used, and the first run's guide."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from workflows.demo import accounts as demo
from workflows.models import Case, WorkItem

ENGINE = "/engine/"


def test_the_login_page_names_the_product_in_both_languages(client):
    page = client.get(reverse("login")).content.decode()
    assert "Reformflow" in page and "Viewflow" not in page and "Demo suite" not in page
    # Our own stylesheet only: no viewflow bundle, web font or social-login icons.
    assert "viewflow.min" not in page and "simple-icons" not in page

    chinese = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "改革督办" in chinese and "登录" in chinese


def test_the_admin_names_the_product(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "Reformflow administration" in page and "Django administration" not in page
    assert "Catalogue, organisation and accounts" in page
    chinese = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "改革督办管理后台" in chinese


@override_settings(DEBUG=False)
@pytest.mark.parametrize("status", [400, 404, 500])
def test_the_error_pages_name_the_product(status):
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("en"):
        page = render_to_string(f"{status}.html")
    assert "· Reformflow</title>" in page and "Back to Reformflow" in page
    with translation.override("zh-hans"):
        page = render_to_string(f"{status}.html")
    assert "· 改革督办</title>" in page and "返回改革督办" in page


@pytest.mark.parametrize("path", ["/engine/measure/", "/workflows/notifications/"])
def test_a_refusal_on_a_page_of_the_site_keeps_the_menu(client, demo_users, path):
    client.force_login(demo_users("network_work.staff"))

    response = client.get(path)

    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and "Reformflow" in page
    assert 'class="vf-page__menu' in page
    assert f'href="{reverse("workflows:inbox")}"' in page
    assert "Workflow engine" not in page


def test_a_refusal_elsewhere_stands_alone(client):
    response = client.get("/engine/measure/")  # viewflow refuses anonymous visitors
    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and "vf-page__menu" not in page


def test_the_workflow_engine_is_offered_only_to_those_who_may_open_it(client, demo_users):
    client.force_login(demo_users("network_work.staff"))
    staff_page = client.get(reverse("workflows:inbox")).content.decode()
    assert "Workflow engine" not in staff_page and f'href="{ENGINE}"' not in staff_page
    assert client.get(ENGINE).status_code == 403

    client.force_login(demo_users("coordinator.office"))
    coordinator_page = client.get(reverse("workflows:inbox")).content.decode()
    assert "Workflow engine" in coordinator_page and f'href="{ENGINE}"' in coordinator_page
    assert client.get(ENGINE).status_code == 302


@pytest.mark.parametrize(
    "username",
    [
        "network_work.staff",
        "network_work.head",
        "secretary_publicity_network",
        "coordinator.office",
        "auditor",
        "admin",
        "beijing.coordinator",
    ],
)
def test_every_link_in_the_side_menu_opens_for_the_person_it_is_shown_to(
    client, catalogue, username
):
    from workflows.demo.accounts import demo_seed

    demo_seed(password="demo-pass-for-tests", provinces=1)
    client.force_login(get_user_model().objects.get(username=username))
    page = client.get(reverse("workflows:inbox")).content.decode()
    menu = page[page.index('<aside class="vf-page__menu') : page.index("</aside>")]
    links = set(re.findall(r'<a [^>]*href="(/[^"]*)"', menu))
    assert reverse("workflows:inbox") in links

    for link in sorted(links):
        assert client.get(link, follow=True).status_code == 200, f"{username}: {link}"


def test_rows_carry_their_column_names_for_the_phone_layout(client, demo_users, launch):
    case = launch("2.2")
    staff = demo_users("network_work.staff")
    client.force_login(staff)

    queue = client.get(reverse("workflows:queue")).content.decode()
    assert 'class="rf-table rf-table-cards"' in queue
    for label in ("Step", "Assignee", "Created", "Due", "Status"):
        assert f'<td data-label="{label}">' in queue
    dashboard = client.get(reverse("workflows:dashboard")).content.decode()
    assert 'data-label="Current step"' in dashboard and 'data-label="Lights"' in dashboard
    chinese = client.get(reverse("workflows:queue"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert 'data-label="步骤"' in chinese.content.decode()
    assert WorkItem.objects.filter(case=case, status="open").exists()


def test_vis_network_loads_only_on_the_engines_graph_pages(client, demo_users, launch):
    case = launch("2.2")
    item = WorkItem.objects.get(case=case, status="open")
    client.force_login(demo_users("coordinator.office"))

    for path in (
        reverse("workflows:index"),
        reverse("workflows:dashboard"),
        reverse("workflows:case", args=[case.pk]),
        f"/engine/measure/{case.pk}/{item.task.flow_task.name}/{item.pk}/",
    ):
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert "vis-network" not in response.content.decode(), path
    for path in ("/engine/measure/", f"/engine/measure/{case.pk}/"):
        assert "vis-network.min.js" in client.get(path).content.decode(), path


def test_the_demo_guide_says_who_launches_the_measure_it_follows(demo_users, capsys):
    staff_line = next(login for login in demo.demo_logins_by_role() if ".staff" in login.username)
    assert "once a coordinator has launched it" in staff_line.role

    case, created = demo.demo_guide_case_launch()
    assert created and case.measure.code == "1.1" and case.launched_by is None
    assert demo.demo_guide_case_launch() == (case, False)
    staff_line = next(login for login in demo.demo_logins_by_role() if ".staff" in login.username)
    assert "claim the plan of measure 1.1 from the queue" in staff_line.role
    staff = demo_users(staff_line.username)
    assert WorkItem.objects.filter(case=case, status="open", department__staff=staff).exists()


def test_seed_demo_launches_the_guides_measure_when_asked(catalogue, capsys, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-for-tests")
    call_command("seed_demo", "--launch-first")
    assert "Measure 1.1: case" in capsys.readouterr().out
    assert Case.objects.filter(measure__code="1.1", is_open=True).count() == 1
