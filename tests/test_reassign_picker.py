"""The reassignment picker (issue 17, item 7) searches the eligible people by name, by
department and by post, through access.reassign_candidate_list (page and API alike)."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from tests.casework import open_item_of, routed_user
from tests.conftest import DEMO_PASSWORD
from workflows.cases import launch, services
from workflows.demo.accounts import demo_seed
from workflows.models import Department, LeaderRole, Measure, Organisation, StepKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    return lambda username: get_user_model().objects.get(username=username)


@pytest.fixture
def case(world):
    launched, _created = launch.case_launch(
        measure=Measure.objects.get(code="2.2"),
        by=world("beijing.coordinator"),
        organisation=Organisation.objects.get(code="beijing"),
    )
    return launched


def picked(world, item, q: str) -> list[str]:
    """The usernames the API picker lists for `q`; the page lists the same."""
    api = APIClient()
    api.force_authenticate(user=world("beijing.coordinator"))
    response = api.get(f"/api/v1/tasks/{item.pk}/assignees", {"q": q})
    assert response.status_code == 200, response.content
    names = [row["username"] for row in response.json()["results"]]
    page = APIClient()
    page.force_login(world("beijing.coordinator"))
    shown = page.get(reverse("workflows:reassign", args=[item.pk]), {"q": q})
    assert [user.username for user in shown.context["candidates"]] == names
    return names


def test_the_picker_searches_by_name(world, case):
    draft = open_item_of(case)
    staff = world("beijing.network_work.staff")
    staff.first_name, staff.last_name = "Lin", "Xiaoyu"
    staff.save()
    assert picked(world, draft, "xiaoyu") == ["beijing.network_work.staff"]
    assert picked(world, draft, "Lin Xiao") == ["beijing.network_work.staff"]
    assert picked(world, draft, "nobody-by-that-name") == []


def test_the_picker_searches_by_department(world, case):
    draft = open_item_of(case)
    department = Department.objects.get(pk=draft.department_id)
    word = max(department.title_en.split(), key=len)
    assert picked(world, draft, word) == [
        "beijing.network_work.head",
        "beijing.network_work.staff",
    ]
    if department.title_zh:
        assert picked(world, draft, department.title_zh[:3]) == [
            "beijing.network_work.head",
            "beijing.network_work.staff",
        ]


def test_the_picker_searches_by_post(world, case):
    # Walk the case to its supervising leader's step.
    for _step in range(20):
        item = open_item_of(case)
        if item.leader_role_id is not None:
            break
        user = routed_user(item)
        if item.assignee_id is None:
            item = services.task_claim(item=item, user=user)
        if item.kind in (StepKind.SUBMIT, StepKind.IMPLEMENT):
            services.task_complete(item=item, user=user, note="Done.")
        else:
            services.task_approve(item=item, user=user, comment="Fine.")
    assert item.leader_role_id is not None
    post = LeaderRole.objects.get(pk=item.leader_role_id)
    holder = post.holder.username
    word = max(post.title_en.split(), key=len)
    assert picked(world, item, word) == [holder]
    if post.title_zh:
        assert picked(world, item, post.title_zh[:3]) == [holder]
    assert picked(world, item, "no-such-post") == []
