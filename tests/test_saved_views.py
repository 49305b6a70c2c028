"""Saved views of the inbox and queue (issue 17, item 6): saved from the list, listed as
links, replayed through workflows.cases.listing, deleted by their owner only; audited."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.conftest import DEMO_PASSWORD
from workflows.demo.accounts import demo_seed
from workflows.models import AuditEvent, SavedView

pytestmark = pytest.mark.django_db

SAVE = reverse("workflows:saved_view_save")
QUEUE = reverse("workflows:queue")


@pytest.fixture
def world(catalogue):
    demo_seed(password=DEMO_PASSWORD, provinces=1, prefectures=0)
    return lambda username: get_user_model().objects.get(username=username)


def test_a_view_is_saved_listed_replayed_and_deleted_by_its_owner(world, client):
    staff = world("beijing.network_work.staff")
    client.force_login(staff)
    # The save form appears once the list is filtered or sorted, carrying its query.
    page = client.get(QUEUE, {"kind": "approve", "sort": "-created"}).content.decode()
    assert f'action="{SAVE}"' in page and 'value="kind=approve&amp;sort=-created"' in page
    response = client.post(
        SAVE,
        {"page": "queue", "name": " Approvals\x07 ", "querystring": "kind=approve&sort=-created"},
    )
    assert response.status_code == 302
    assert response.url == f"{QUEUE}?kind=approve&sort=-created"
    view = SavedView.objects.get(user=staff)
    assert (view.page, view.name, view.querystring) == (
        "queue",
        "Approvals",
        "kind=approve&sort=-created",
    )
    assert AuditEvent.objects.filter(verb="saved_view_saved", actor=staff).exists()
    listed = client.get(QUEUE).content.decode()
    assert 'href="?kind=approve&amp;sort=-created">Approvals</a>' in listed
    # Saving the same name replaces it.
    client.post(SAVE, {"page": "queue", "name": "Approvals", "querystring": "overdue=1"})
    assert list(SavedView.objects.filter(user=staff).values_list("querystring", flat=True)) == [
        "overdue=1"
    ]
    # Someone else cannot delete it (404); its owner can.
    delete = reverse("workflows:saved_view_delete", args=[view.pk])
    other = world("beijing.network_work.head")
    client.force_login(other)
    assert client.post(delete).status_code == 404
    assert "Approvals" not in client.get(QUEUE).content.decode()
    client.force_login(staff)
    assert client.post(delete).status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert AuditEvent.objects.filter(verb="saved_view_deleted", actor=staff).exists()


@pytest.mark.parametrize(
    "data, field",
    [
        ({"page": "admin", "name": "x", "querystring": ""}, "page"),
        ({"page": "inbox", "name": "x", "querystring": "sort=password"}, "sort"),
        ({"page": "inbox", "name": "x", "querystring": "kind=drop"}, "kind"),
    ],
)
def test_a_bad_saved_view_is_a_400_and_nothing_is_stored(world, client, data, field):
    client.force_login(world("beijing.network_work.staff"))
    response = client.post(SAVE, data)
    assert response.status_code == 400
    assert field in response.content.decode()
    assert not SavedView.objects.exists()


def test_a_nameless_view_is_refused_with_a_message(world, client):
    client.force_login(world("beijing.network_work.staff"))
    response = client.post(
        SAVE, {"page": "inbox", "name": " \x00 ", "querystring": ""}, follow=True
    )
    assert not SavedView.objects.exists()
    assert "Give the view a name." in response.content.decode()
