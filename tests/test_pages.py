"""The pages themselves: home for every role, the programme dashboard, bounded queries and
the Chinese catalogue."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from tests.casework import claim, open_item_of, submit, task_url
from workflows.cases import launch as cases_launch
from workflows.cases import services
from workflows.models import Aspect, Department, Measure

TITLE_ZH_2_2 = "建设动态实名、全面覆盖、安全共享的工会大数据库"


def test_home_tells_every_demo_role_what_to_do_next(client, demo_users, launch):
    launch("2.2")
    users = get_user_model().objects.order_by("username")
    assert users.count() == 43

    for user in users:
        client.force_login(user)
        response = client.get(reverse("workflows:index"))
        assert response.status_code == 200, user.username
        page = response.content.decode()
        assert "What to do next" in page, user.username
        if user.username == "auditor":
            assert "read-only access" in page and "in your inbox" not in page
        else:
            assert "in your inbox" in page and "in your queues" in page, user.username
        if user.username.startswith("coordinator.") or user.username == "admin":
            assert reverse("workflows:launch") in page, user.username
        else:
            assert reverse("workflows:launch") not in page, user.username

    client.force_login(demo_users("network_work.staff"))
    assert (
        "1 unclaimed task in your queues" in client.get(reverse("workflows:index")).content.decode()
    )


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("workflows:index"))

    assert response.status_code == 302
    assert response.url == reverse("login") + "?next=" + reverse("workflows:index")


def test_the_dashboard_lists_every_aspect_and_measure_with_status_and_current_step(
    client, coordinator, launch
):
    launch("2.2")
    client.force_login(coordinator)

    response = client.get(reverse("workflows:dashboard"))

    assert response.status_code == 200
    aspects = response.context["aspects"]
    assert [aspect.code for aspect, _rows in aspects] == [str(n) for n in range(1, 8)]
    rows = [row for _aspect, aspect_rows in aspects for row in aspect_rows]
    assert [row.measure.code for row in rows] == list(
        Measure.objects.order_by("aspect__position", "position").values_list("code", flat=True)
    )
    assert len(rows) == 30
    page = response.content.decode()
    for aspect in Aspect.objects.all():
        assert escape(f"{aspect.code}. {aspect.title_en}") in page
    for measure in Measure.objects.all():
        assert escape(f"{measure.code} {measure.title_en}") in page
    launched_row = re.search(r"<tr[^>]*>\s*<td><a href=\"[^\"]+\">2\.2 .*?</tr>", page, re.S).group(
        0
    )
    assert "In progress" in launched_row
    assert "Draft implementation plan" in launched_row
    network_work = Department.objects.get(key="network_work")
    assert escape(f"Queue: {network_work.title_en}") in launched_row
    assert page.count("Not launched") == 29


def _launch_with_inbox_item(code, coordinator, staff):
    """Launch a case and hand its first task to `staff`, so it sits in their inbox (made staff
    of the case's lead department: a task goes only to someone who could act on it)."""
    case, _created = cases_launch.case_launch(
        measure=Measure.objects.get(code=code), by=coordinator
    )
    case.lead_department.staff.add(staff)
    services.task_reassign(
        item=open_item_of(case), by=coordinator, to_user=staff, reason="Query-count test."
    )


def _query_counts(client, users) -> dict[str, int]:
    counts = {}
    for label, user, url_name in (
        ("dashboard/coordinator", users["coordinator"], "workflows:dashboard"),
        ("dashboard/staff", users["staff"], "workflows:dashboard"),
        ("inbox/staff", users["staff"], "workflows:inbox"),
    ):
        client.force_login(user)
        client.get(reverse(url_name))  # warm up: first-request caches are not the page's
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(url_name))
        assert response.status_code == 200
        counts[label] = len(queries)
    return counts


def test_dashboard_and_inbox_queries_do_not_grow_with_the_number_of_cases(
    client, demo_users, coordinator
):
    users = {"coordinator": coordinator, "staff": demo_users("network_work.staff")}
    codes = list(
        Measure.objects.order_by("aspect__position", "position").values_list("code", flat=True)
    )
    _launch_with_inbox_item(codes[0], coordinator, users["staff"])
    with_one = _query_counts(client, users)

    for code in codes[1:10]:
        _launch_with_inbox_item(code, coordinator, users["staff"])
    with_ten = _query_counts(client, users)

    client.force_login(users["staff"])
    inbox = client.get(reverse("workflows:inbox")).content.decode()
    assert len(re.findall(r'<td data-label="[^"]*"><a href="/workflows/tasks/\d+/">', inbox)) == 10
    assert with_ten == with_one


@pytest.mark.parametrize("via", ["setlang", "cookie"])
def test_switching_to_chinese_shows_chinese_catalogue_titles(client, coordinator, launch, via):
    launch("2.2")
    client.force_login(coordinator)
    english = client.get(reverse("workflows:dashboard")).content.decode()
    assert TITLE_ZH_2_2 not in english

    if via == "setlang":
        response = client.post(
            "/i18n/setlang/", {"language": "zh-hans", "next": reverse("workflows:dashboard")}
        )
        assert response.status_code == 302
    else:
        client.cookies["django_language"] = "zh-hans"

    page = client.get(reverse("workflows:dashboard")).content.decode()
    assert f"2.2 {TITLE_ZH_2_2}" in page
    assert Aspect.objects.get(code="2").title_zh in page


def test_the_case_page_shows_steps_progress_and_history(client, demo_users, launch):
    case = launch("2.2")
    staff = demo_users("network_work.staff")
    draft = open_item_of(case)
    claim(client, staff, draft)
    submit(client, staff, draft, "The plan in three stages.")

    page = client.get(reverse("workflows:case", args=[case.pk])).content.decode()

    assert "2.2 " + case.measure.title_en in page
    assert "The plan in three stages." in page
    assert task_url(open_item_of(case)) in page
    for verb in ("case_launched", "task_created", "task_claimed", "submitted"):
        assert verb in page


@pytest.mark.parametrize(
    ("username", "expected"),
    [("coordinator.office", 200), ("auditor", 200), ("network_work.head", 403)],
)
def test_viewflow_engine_pages_are_for_coordinators_and_auditors(
    client, demo_users, launch, username, expected
):
    launch("2.2")
    client.force_login(demo_users(username))
    assert client.get("/engine/measure/").status_code == expected


def test_the_side_menu_rendered_once_per_role_and_language_never_leaks_a_link(client, demo_users):
    notification_log = reverse("workflows:notifications")
    audit_desk = reverse("workflows:audit")

    def menu(username, language="en"):
        client.force_login(demo_users(username))
        page = client.get(reverse("workflows:inbox"), HTTP_ACCEPT_LANGUAGE=language)
        return page.content.decode()

    # The coordinator's menu (with the log and the audit desk) is rendered and kept first...
    coordinator_page = menu("coordinator.office")
    assert notification_log in coordinator_page and audit_desk in coordinator_page
    # ...and never served to staff, who get their own, without those links.
    staff_page = menu("network_work.staff")
    assert notification_log not in staff_page and audit_desk not in staff_page
    assert reverse("workflows:inbox") in staff_page
    # The header above the menu (who is signed in) is not part of the kept copy.
    staff_email = demo_users("network_work.staff").email
    assert staff_email in staff_page and staff_email not in coordinator_page
    # Each language has its own copy.
    assert ">待办<" in menu("network_work.staff", "zh-hans")
    assert ">待办<" not in menu("network_work.staff")


def test_table_rows_escape_every_name_they_show(client, demo_users, launch):
    """Rows are built in Python (workflows/templatetags/rows.py): nothing reaches the page raw."""
    hostile = '<img src=x onerror="alert(1)">'
    case = launch("2.2")
    Measure.objects.filter(code="2.2").update(title_en=f"Data {hostile}")
    Department.objects.filter(pk=case.lead_department_id).update(title_en=f"Dept {hostile}")
    staff = demo_users("network_work.staff")
    client.force_login(staff)

    pages = [
        client.get(reverse("workflows:queue")).content.decode(),
        client.get(reverse("workflows:dashboard")).content.decode(),
    ]

    for page in pages:
        assert hostile not in page
        assert escape(hostile) in page


def test_a_long_case_history_shows_the_latest_events_and_points_to_the_audit_desk(
    client, coordinator, launch, monkeypatch
):
    from workflows.audit.trail import audit_record
    from workflows.web import cases as views

    case = launch("2.2")
    for n in range(5):
        audit_record(verb="commented", case=case, data={"n": n})
    total = case.events.count()
    monkeypatch.setattr(views, "CASE_HISTORY_SHOWN", 3)
    client.force_login(coordinator)

    page = client.get(reverse("workflows:case", args=[case.pk])).content.decode()

    assert page.count('class="rf-event"') == 3
    assert f"The latest 3 of {total} events." in page
    assert f"{reverse('workflows:audit')}?case={case.pk}" in page
    # Oldest first among the latest three: the last one recorded closes the list.
    shown = re.findall(r'id="event-(\d+)"', page)
    assert shown == sorted(shown, key=int) and int(shown[-1]) == case.events.latest("pk").pk


def test_safe_join_refuses_raw_text_so_nothing_unescaped_reaches_a_page():
    import pytest

    from workflows.templatetags.badges import format_html, safe_join

    joined = safe_join([format_html("<b>{}</b>", "<i>"), format_html("<br>")], "\n")
    assert joined == "<b>&lt;i&gt;</b>\n<br>"
    with pytest.raises(TypeError, match="safe markup only"):
        safe_join([format_html("<b>ok</b>"), "<script>raw</script>"])
