"""The language a person reads is kept on their profile (organisations/languages.py): the switch
stores it, the login page offers it, and logging in applies it."""

from django.conf import settings
from django.urls import reverse

from tests.conftest import DEMO_PASSWORD
from workflows.models import AuditEvent, Profile

SETLANG = reverse("set_language")
LOGIN = reverse("login")
HOME = reverse("workflows:index")


def log_in(client, username: str):
    return client.post(LOGIN, {"username": username, "password": DEMO_PASSWORD})


def language_of(username: str) -> str:
    return Profile.objects.get(user__username=username).language


def test_nobody_has_chosen_a_language_until_they_use_the_switch(demo_users):
    assert set(Profile.objects.values_list("language", flat=True)) == {""}


def test_the_switch_keeps_a_signed_in_persons_choice_on_their_profile(client, demo_users):
    staff = demo_users("network_work.staff")
    client.force_login(staff)

    response = client.post(SETLANG, {"language": "zh-hans", "next": HOME})

    assert response.status_code == 302
    assert language_of("network_work.staff") == "zh-hans"
    event = AuditEvent.objects.get(verb="language_changed")
    assert event.actor_id == staff.pk and event.data == {"from": "", "to": "zh-hans"}
    assert "待办" in client.get(HOME).content.decode()
    # The same choice again changes nothing and records nothing.
    client.post(SETLANG, {"language": "zh-hans", "next": HOME})
    assert AuditEvent.objects.filter(verb="language_changed").count() == 1


def test_a_language_the_site_does_not_offer_is_ignored(client, demo_users):
    client.force_login(demo_users("network_work.staff"))

    response = client.post(SETLANG, {"language": "xx-evil", "next": HOME})

    assert response.status_code == 302
    assert language_of("network_work.staff") == ""
    assert not AuditEvent.objects.filter(verb="language_changed").exists()


def test_the_login_page_offers_the_switch_and_the_choice_is_kept_at_login(client, demo_users):
    page = client.get(LOGIN).content.decode()
    assert f'action="{SETLANG}"' in page and 'value="zh-hans"' in page

    client.post(SETLANG, {"language": "zh-hans", "next": LOGIN})
    assert "登录" in client.get(LOGIN).content.decode()
    response = log_in(client, "network_work.head")

    assert response.status_code == 302
    assert language_of("network_work.head") == "zh-hans"
    assert "待办" in client.get(HOME).content.decode()


def test_logging_in_applies_the_language_on_the_profile(client, demo_users):
    Profile.objects.filter(user=demo_users("network_work.staff")).update(language="zh-hans")

    response = log_in(client, "network_work.staff")

    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "待办" in client.get(HOME).content.decode()
    # After that the cookie decides, as for anyone: the next switch moves both.
    client.post(SETLANG, {"language": "en", "next": HOME})
    assert language_of("network_work.staff") == "en"
    assert "Inbox" in client.get(HOME).content.decode()


def test_another_browsers_choice_is_not_taken_over_at_login(client, demo_users):
    """A Chinese browser (Accept-Language) with no choice on the profile stays Chinese; the
    cookie a previous person left is not written into this person's profile."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"

    log_in(client, "network_work.staff")

    assert language_of("network_work.staff") == ""
    assert "待办" in client.get(HOME).content.decode()
