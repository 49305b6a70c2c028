"""The case page and its supervision page are rendered once per change stamp, user and
language (workflows/web/fragments.py, issue 20): a write retires them when it commits; another
person, federation or language never gets them; reach is checked on every request; the forms
carry the request's own CSRF token; a warm hit reads a small, fixed number of queries."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import DEMO_PASSWORD
from tests.test_reach import launch_in
from workflows.cases import services
from workflows.demo.accounts import demo_seed
from workflows.supervision import orders

CASE_FRAGMENT = "workflows/_case_main.html"
SUPERVISION_FRAGMENT = "workflows/supervision/_case_main.html"


def rendered(response, fragment=CASE_FRAGMENT) -> bool:
    """Whether the request rendered the page's main part (a miss) rather than reading it."""
    return fragment in [t.name for t in response.templates]


def unmasked(response) -> str:
    """The page less its CSRF tokens (masked anew on every request)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def case_url(case) -> str:
    return reverse("workflows:case", args=[case.pk])


def supervision_url(case) -> str:
    return reverse("workflows:supervision", args=[case.pk])


def test_a_comment_retires_the_cached_case_page(client, coordinator, launch):
    case = launch("1.1")
    client.force_login(coordinator)
    first = client.get(case_url(case))
    assert rendered(first)
    again = client.get(case_url(case))
    assert not rendered(again)
    assert unmasked(again) == unmasked(first)

    services.comment_add(case=case, user=coordinator, text="Cached pages move on.")
    after = client.get(case_url(case))
    assert rendered(after)
    assert "Cached pages move on." in after.content.decode()


def test_an_order_retires_the_cached_supervision_page(client, coordinator, launch):
    case = launch("1.1")
    client.force_login(coordinator)
    assert rendered(client.get(supervision_url(case)), SUPERVISION_FRAGMENT)
    assert not rendered(client.get(supervision_url(case)), SUPERVISION_FRAGMENT)

    orders.order_issue(case=case, by=coordinator, reason="Lagging behind the plan.")
    after = client.get(supervision_url(case))
    assert rendered(after, SUPERVISION_FRAGMENT)
    assert "Lagging behind the plan." in after.content.decode()


@pytest.mark.parametrize("url", [case_url, supervision_url])
def test_another_person_or_language_never_gets_the_cached_page(
    client, coordinator, auditor, launch, url
):
    case = launch("1.1")
    fragment = CASE_FRAGMENT if url is case_url else SUPERVISION_FRAGMENT
    client.force_login(coordinator)
    assert rendered(client.get(url(case)), fragment)
    assert not rendered(client.get(url(case)), fragment)
    # The auditor sees the same case, without the coordinator's forms.
    client.force_login(auditor)
    page = client.get(url(case))
    assert rendered(page, fragment), "the auditor read the coordinator's cached page"
    assert 'name="text"' not in page.content.decode() or url is supervision_url
    # The same person in Chinese: rendered again, in Chinese.
    client.force_login(coordinator)
    chinese = client.get(url(case), headers={"accept-language": "zh-hans"})
    assert rendered(chinese, fragment)
    assert unmasked(chinese) != unmasked(client.get(url(case)))


@pytest.mark.parametrize("url", [case_url, supervision_url])
def test_a_federation_out_of_reach_gets_404_even_when_cached(client, catalogue, url):
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=1)
    people = get_user_model().objects.get
    world = lambda username: people(username=username)  # noqa: E731
    case = launch_in(world, "1.1", "beijing")
    client.force_login(world("beijing.coordinator"))
    assert client.get(url(case)).status_code == 200
    assert client.get(url(case)).status_code == 200  # now cached
    client.force_login(world("shanghai.coordinator"))
    assert client.get(url(case)).status_code == 404


def test_the_cached_forms_carry_each_sessions_own_csrf_token(coordinator, launch):
    case = launch("1.1")
    tokens = []
    for _session in range(2):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(coordinator)
        page = browser.get(case_url(case)).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        tokens.append(token)
        answer = browser.post(
            reverse("workflows:comment", args=[case.pk]),
            {"text": f"Posted from session {_session}.", "csrfmiddlewaretoken": token},
        )
        assert answer.status_code == 302, answer.status_code
    assert tokens[0] != tokens[1]
    assert case.comments.count() == 2


@pytest.mark.parametrize("url", [case_url, supervision_url])
def test_a_warm_hit_reads_a_small_fixed_number_of_queries(client, coordinator, launch, url):
    case = launch("1.1")
    client.force_login(coordinator)
    client.get(url(case))
    with CaptureQueriesContext(connection) as hit:
        response = client.get(url(case))
    assert response.status_code == 200
    # The session's user, the reach check and the page frame (menu, roles): no page data.
    assert len(hit) <= 10, [q["sql"][:80] for q in hit]
