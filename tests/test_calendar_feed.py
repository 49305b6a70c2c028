"""The private calendar feed (issue 17, item 8): My work's due dates as an `.ics` address that
calendars subscribe to; only the token's SHA-256 is stored, a revoked or replaced address
answers 404 like an unknown one, reads are audited, and the feed costs a fixed number of
queries."""

import datetime as dt
import hashlib
import json
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from icalendar import Calendar

from tests.casework import advance, open_item_of
from tests.conftest import DEMO_PASSWORD
from tests.deadline_helpers import beijing
from workflows.cases import calendar_feed as feeds
from workflows.cases import worklist
from workflows.cases.launch import case_launch
from workflows.common.calendar import local_date
from workflows.demo.accounts import demo_seed
from workflows.models import AuditEvent, CalendarFeed, Case, Measure, Organisation
from workflows.supervision import extensions, instructions, orders
from workflows.sweep import sweep_run

pytestmark = pytest.mark.django_db

LAUNCHED = beijing(2027, 3, 1, 10)
PAGE = reverse("workflows:calendar")
STAFF = "beijing.network_work.staff"


def at(moment):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def world(catalogue):
    """The national federation with two provinces, beijing and its sibling shanghai."""
    demo_seed(password=DEMO_PASSWORD, provinces=2, prefectures=0)
    return lambda username: get_user_model().objects.get(username=username)


def launch_in(world, code: str, organisation: str) -> Case:
    case, _created = case_launch(
        measure=Measure.objects.get(code=code),
        by=world(f"{organisation}.coordinator"),
        organisation=Organisation.objects.get(code=organisation),
    )
    return case


def made_on_the_page(user) -> str:
    """Make an address on the page, as a person would; returns its path (shown this once)."""
    client = Client()
    client.force_login(user)
    page = client.post(PAGE, {"action": "create"})
    assert page.status_code == 200
    address = re.search(r'value="(https?://[^"]+\.ics)"', page.content.decode()).group(1)
    assert address.startswith("http://127.0.0.1:8000/calendar/")
    return address.split("127.0.0.1:8000", 1)[1]


def read(path: str):
    """The feed as a calendar reads it: no session, no cookie."""
    return Client().get(path)


def calendar_of(response) -> Calendar:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> dict[str, object]:
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def test_the_feed_lists_my_work_with_its_due_dates_and_nothing_of_a_sibling(world, client):
    staff, head = world(STAFF), world("beijing.network_work.head")
    with at(LAUNCHED):
        case = launch_in(world, "2.2", "beijing")
        sibling = launch_in(world, "2.2", "shanghai")
        for _ in range(3):  # draft, head approval, leader approval: implementation is open
            advance(client, case)
    implementation = open_item_of(case)
    with at(beijing(2027, 3, 2, 12)):
        sweep_run(now=beijing(2027, 3, 2, 12))  # opens March's feedback cycle
        orders.order_issue(case=case, by=world("beijing.coordinator"), reason="Report.")
        instructions.instruction_issue(
            case=case,
            leader=world("beijing.secretary_publicity_network"),
            text="Brief me.",
            due_date=dt.date(2027, 3, 10),
        )
        extensions.extension_request(
            item=implementation,
            user=staff,
            reason="The data arrive late.",
            new_date=dt.date(2028, 3, 10),
            percent=10,
        )
        path = made_on_the_page(head)
        response = read(path)
        calendar = calendar_of(response)
        listed = worklist.work_list(head, limit=feeds.FEED_LIMIT)
    assert str(calendar["x-wr-calname"]) == "Reformflow: my due dates"
    got = events(calendar)
    # Exactly what My work lists (each with a due date), under stable ids.
    assert sorted(got) == sorted(
        f"reformflow-{e.kind.replace('_', '-')}-{e.pk}@127.0.0.1" for e in listed if e.due_at
    )
    assert {e.kind for e in listed} == {"cycle", "extension", "instruction", "order"}
    for entry in listed:
        event = got[f"reformflow-{entry.kind.replace('_', '-')}-{entry.pk}@127.0.0.1"]
        assert event["dtstart"].dt == local_date(entry.due_at)
        assert event["dtend"].dt == local_date(entry.due_at) + dt.timedelta(days=1)
        assert str(event["summary"]).startswith("2.2 ")
        assert str(event["url"]) == f"http://127.0.0.1:8000{entry.url}"
        assert event["dtstamp"].dt.tzinfo is not None
    extension = got[f"reformflow-extension-{case.extension_requests.get().pk}@127.0.0.1"]
    assert str(extension["summary"]) == "2.2 Extension request to decide"
    instruction = got[f"reformflow-instruction-{case.instructions.get().pk}@127.0.0.1"]
    assert instruction["dtstart"].dt == dt.date(2027, 3, 10)
    # The staff member's own feed holds the task they hold, named by measure and step.
    with at(beijing(2027, 3, 2, 13)):
        mine = events(calendar_of(read(made_on_the_page(staff))))
    task = mine[f"reformflow-task-{implementation.pk}@127.0.0.1"]
    assert str(task["summary"]) == f"2.2 {implementation.step.title}"
    assert task["dtstart"].dt == local_date(implementation.due_at)
    # The sibling federation's same measure, same department key: never in beijing's feeds.
    sibling_ids = {f"-{item.pk}@" for item in sibling.work_items.all()}
    assert not any(marker in uid for uid in {*got, *mine} for marker in sibling_ids)
    shanghai = Organisation.objects.get(code="shanghai")
    assert shanghai.title_en not in response.content.decode()
    assert "Beijing" in str(extension["description"])


def test_a_revoked_or_replaced_address_answers_like_an_unknown_one(world):
    staff = world(STAFF)
    first, first_token = feeds.calendar_feed_create(user=staff)
    first_path = reverse("calendar_feed", args=[first_token])
    assert read(first_path).status_code == 200
    # Made again: the old address stops working, the new one works.
    _second, token = feeds.calendar_feed_create(user=staff)
    path = reverse("calendar_feed", args=[token])
    unknown = read(reverse("calendar_feed", args=["x" * 43]))
    old = read(first_path)
    assert unknown.status_code == old.status_code == 404 and old.content == unknown.content
    assert read(path).status_code == 200
    first.refresh_from_db()
    assert first.revoked_at is not None
    # Revoked on the page (a post with CSRF like any form): gone too.
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    page = client.get(PAGE)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert client.post(PAGE, {"action": "revoke"}).status_code == 403  # no CSRF token
    answer = client.post(PAGE, {"action": "revoke", "csrfmiddlewaretoken": csrf.group(1)})
    assert answer.status_code == 302
    assert read(path).status_code == 404 and read(path).content == unknown.content
    assert not CalendarFeed.objects.filter(user=staff, revoked_at__isnull=True).exists()
    # An inactive owner's live address answers 404 too.
    _third, token = feeds.calendar_feed_create(user=staff)
    staff.is_active = False
    staff.save(update_fields=["is_active"])
    assert read(reverse("calendar_feed", args=[token])).content == unknown.content
    # Only calendars' methods.
    assert Client().post(reverse("calendar_feed", args=[token])).status_code == 405


def test_the_token_is_stored_only_as_its_hash_and_shown_once(world):
    staff = world(STAFF)
    path = made_on_the_page(staff)
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43
    feed = CalendarFeed.objects.get(user=staff)
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = json.dumps(list(CalendarFeed.objects.values()), default=str)
    stored += json.dumps(list(AuditEvent.objects.values()), default=str)
    assert token not in stored
    read(path)
    assert token not in json.dumps(list(AuditEvent.objects.values()), default=str)
    # Back on the page: the address is not shown again, only that one is live.
    client = Client()
    client.force_login(staff)
    page = client.get(PAGE).content.decode()
    assert token not in page and "Revoke the address" in page
    assert "Your calendar address was made on" in page


def test_making_revoking_and_reading_are_audited_reads_at_most_hourly(world):
    staff = world(STAFF)
    verbs = lambda: list(  # noqa: E731
        AuditEvent.objects.filter(verb__startswith="calendar_feed").values_list("verb", flat=True)
    )
    with at(LAUNCHED):
        feed, token = feeds.calendar_feed_create(user=staff)
        path = reverse("calendar_feed", args=[token])
        read(path)
        read(path)
        feed.refresh_from_db()
        assert feed.last_used_at == LAUNCHED
    assert verbs() == ["calendar_feed_created", "calendar_feed_read"]
    event = AuditEvent.objects.get(verb="calendar_feed_read")
    assert event.actor == staff and event.data["feed"] == feed.pk
    assert event.data["items"] == 0
    with at(LAUNCHED + dt.timedelta(minutes=30)):
        read(path)
    feed.refresh_from_db()
    assert feed.last_used_at == LAUNCHED + dt.timedelta(minutes=30)
    assert verbs().count("calendar_feed_read") == 1  # within the hour: last_used_at only
    with at(LAUNCHED + dt.timedelta(hours=1, minutes=1)):
        read(path)
        feeds.calendar_feed_revoke(user=staff)
        assert feeds.calendar_feed_revoke(user=staff) is False  # nothing live: nothing audited
    assert verbs() == [
        "calendar_feed_created",
        "calendar_feed_read",
        "calendar_feed_read",
        "calendar_feed_revoked",
    ]


def test_each_person_sees_only_their_own_address(world):
    staff, coordinator = world(STAFF), world("beijing.coordinator")
    made_on_the_page(staff)
    client = Client()
    client.force_login(coordinator)
    page = client.get(PAGE).content.decode()
    assert "You have no calendar address." in page and "Revoke the address" not in page
    # A coordinator's revoke revokes their own (none), never the staff member's.
    client.post(PAGE, {"action": "revoke"})
    assert CalendarFeed.objects.filter(user=staff, revoked_at__isnull=True).count() == 1
    # Auditors hold no work: the page says so, and they cannot make one.
    client.force_login(world("auditor"))
    assert "Auditors hold no work" in client.get(PAGE).content.decode()
    assert client.post(PAGE, {"action": "create"}).status_code == 403
    assert not CalendarFeed.objects.filter(user__username="auditor").exists()


def test_the_owner_losing_a_task_loses_it_from_the_feed(world, client):
    staff = world(STAFF)
    with at(LAUNCHED):
        case = launch_in(world, "2.2", "beijing")
        _feed, token = feeds.calendar_feed_create(user=staff)
        path = reverse("calendar_feed", args=[token])
        draft = open_item_of(case)
        assert f"reformflow-task-{draft.pk}@127.0.0.1" in events(calendar_of(read(path)))
        advance(client, case)  # drafted: now with the head
        assert events(calendar_of(read(path))) == {}


def test_chinese_users_read_their_calendar_in_chinese(world):
    staff = world(STAFF)
    staff.profile.language = "zh-hans"
    staff.profile.save()
    with at(LAUNCHED):
        launch_in(world, "2.2", "beijing")
        client = Client()
        client.force_login(staff)
        page = client.post(PAGE, {"action": "create"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
        text = page.content.decode()
        assert "我的日历" in text and "请立即复制" in text
        path = re.search(r'value="https?://[^/]+(/calendar/[^"]+)"', text).group(1)
        calendar = calendar_of(read(path))
        again = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert str(calendar["x-wr-calname"]) == "Reformflow：我的截止日期"
    (event,) = calendar.walk("VEVENT")
    assert str(event["summary"]) == "2.2 起草实施方案"
    assert "北京时间" in str(event["description"])
    assert "2027年3月1日" in again  # the date the address was made, in Chinese style


def _feed_queries(path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert read(path).status_code == 200
    return len(queries)


def test_the_feed_costs_the_same_queries_at_two_sizes(world):
    staff = world(STAFF)
    with at(LAUNCHED):
        launch_in(world, "2.2", "beijing")
        _feed, token = feeds.calendar_feed_create(user=staff)
        path = reverse("calendar_feed", args=[token])
        first = _feed_queries(path)  # the hour's audited read
        small = _feed_queries(path)
        for code in ("2.3", "2.4", "2.5", "3.1", "3.2", "3.3"):
            launch_in(world, code, "beijing")
        large = _feed_queries(path)
        assert len(events(calendar_of(read(path)))) >= 3
    assert large == small, (small, large)
    assert small <= 25 and first <= small + 6, (first, small)
