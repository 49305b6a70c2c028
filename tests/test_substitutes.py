"""Substitutes: the substitute receives and may act on the person's tasks, acts are audited as
"on behalf of", separation of duties holds across the pair, coordinators name one for others."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tests.casework import open_item_of
from workflows.cases import services, worklist
from workflows.common import reach as access
from workflows.common.calendar import local_date
from workflows.models import AuditEvent, Substitution
from workflows.organisations import substitutes

pytestmark = pytest.mark.django_db


def _today():
    from django.utils import timezone

    return local_date(timezone.now())


def _name(person, substitute, by=None):
    return substitutes.substitution_set(
        person=person,
        substitute=substitute,
        starts_on=_today(),
        ends_on=_today() + dt.timedelta(days=7),
        by=by or person,
    )


def _fresh(user):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=user.pk)


def test_the_substitute_receives_and_acts_on_behalf(launch, demo_users):
    case = launch("2.2")
    staff, other = demo_users("network_work.staff"), demo_users("grassroots_work.staff")
    draft = services.task_claim(item=open_item_of(case), user=staff)
    assert not access.is_candidate(_fresh(other), draft)
    _name(staff, other)
    other = _fresh(other)
    assert access.is_candidate(other, draft)
    assert ("task", case.measure.code) in [
        (e.kind, e.measure_code) for e in worklist.work_list(other)
    ]
    services.task_complete(item=draft, user=other, note="Plan drafted while away.")
    event = AuditEvent.objects.filter(work_item=draft, actor=other).exclude(data={}).last()
    assert event.data.get("on_behalf_of") == "network_work.staff"
    assert AuditEvent.objects.filter(verb="substitute_named").exists()


def test_separation_of_duties_holds_across_the_pair(launch, demo_users):
    case = launch("2.2")
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    draft = services.task_claim(item=open_item_of(case), user=staff)
    services.task_complete(item=draft, user=staff, note="Plan.")
    review = open_item_of(case)
    assert review.produced_by_id == staff.pk
    # The head names the submitter as their substitute: neither may approve the work.
    _name(head, staff)
    with pytest.raises(PermissionDenied):
        access.check_can_act(_fresh(head), review)
    with pytest.raises(PermissionDenied):
        access.check_can_act(_fresh(staff), review)


def test_coordinators_name_one_within_their_federation(demo_users, coordinator):
    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    _name(staff, head, by=coordinator)
    assert Substitution.objects.filter(person=staff, set_by=coordinator).exists()
    with pytest.raises(PermissionDenied):
        _name(staff, demo_users("grassroots_work.staff"), by=demo_users("grassroots_work.head"))
    with pytest.raises(ValidationError):
        _name(staff, staff)


def test_the_preferences_page_names_a_substitute(client, demo_users):
    staff = demo_users("network_work.staff")
    client.force_login(staff)
    assert client.get(reverse("workflows:substitute")).status_code == 200
    start = _today().isoformat()
    end = (_today() + dt.timedelta(days=3)).isoformat()
    client.post(
        reverse("workflows:substitute"),
        {"substitute": "network_work.head", "starts_on": start, "ends_on": end},
    )
    assert Substitution.objects.filter(person=staff, substitute__username="network_work.head")
    assert "network_work.head" in client.get(reverse("workflows:substitute")).content.decode()


def test_reach_is_read_in_one_query_with_the_stood_in_for_persons_posts(demo_users):
    """Groups, home, whom the user stands in for and the posts of them all: one query, the
    same as asking each on its own (issue 20: six to eight queries on every page before)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflows.common import substitution
    from workflows.models import Department, LeaderRole

    head, staff = demo_users("network_work.head"), demo_users("grassroots_work.staff")
    _name(head, staff)
    staff = _fresh(staff)
    with CaptureQueriesContext(connection) as queries:
        reach = access.reach_of(staff)
        persons, (headed, staffed) = reach.persons, reach.departments
        facts = (reach.groups, reach.bound, reach.leader_roles, reach.posts, reach.department_rows)
        assert substitution.represented(staff) == {head.pk}
    assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]
    assert persons == {staff.pk, head.pk}
    assert headed == set(Department.objects.filter(head=head).values_list("pk", flat=True))
    assert headed and staffed == set(
        Department.objects.filter(staff=staff).values_list("pk", flat=True)
    )
    groups, bound, leader_roles, posts, rows = facts
    assert groups == set(staff.groups.values_list("name", flat=True))
    assert bound == (
        None if staff.profile.organisation.parent_id is None else staff.profile.organisation.path
    )
    assert leader_roles == set(
        LeaderRole.objects.filter(holder__in=persons).values_list("pk", flat=True)
    )
    departments = Department.objects.filter(pk__in=headed | staffed)
    assert posts[0] == set(departments.values_list("key", "organisation__path"))
    assert rows == tuple(departments.order_by("pk").values_list("pk", "key", "organisation_id"))
    assert access.user_organisation(staff) == staff.profile.organisation


def test_reach_facts_are_each_users_own_and_follow_the_day(demo_users):
    """What reach is worked out from is read by a statement compiled once per database with
    stand-ins for the user and the day (common/reach_facts.py): each user gets their own facts,
    and a substitution counts only on the days it covers."""
    from unittest import mock

    from workflows.common import reach_facts

    staff, head = demo_users("network_work.staff"), demo_users("network_work.head")
    other = demo_users("grassroots_work.staff")
    substitutes.substitution_set(
        person=staff,
        substitute=other,
        starts_on=_today() + dt.timedelta(days=2),
        ends_on=_today() + dt.timedelta(days=4),
        by=staff,
    )
    head_facts, staff_facts = reach_facts.facts_read(head), reach_facts.facts_read(staff)
    assert {key for _, key, _, _ in head_facts.headed} == {"network_work"}
    assert not head_facts.staffed and not staff_facts.headed
    assert {key for _, key, _, _ in staff_facts.staffed} == {"network_work"}
    # The same statement as the ORM builds it for this user and day, row for row.
    query = reach_facts.facts_query(other, _today())
    assert sorted(reach_facts._rows(other), key=repr) == sorted(query, key=repr)
    assert reach_facts.facts_read(other).represented == frozenset()
    later = _today() + dt.timedelta(days=3)
    with mock.patch.object(reach_facts.substitution, "local_today", return_value=later):
        facts = reach_facts.facts_read(other)
    assert facts.represented == frozenset({staff.pk})
    assert "network_work" in {key for _, key, _, _ in facts.staffed}
