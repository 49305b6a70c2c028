"""Who may see and do what on a case, through the real pages: a role x action matrix,
separation of duties, and the same refusals at the service level."""

from dataclasses import dataclass

import pytest
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from tests.casework import case_url, claim, decide, open_item_of, submit, task_url
from tests.conftest import DEMO_PASSWORD
from workflows.cases import evidence as cases_evidence
from workflows.cases import launch as cases_launch
from workflows.cases import services
from workflows.demo.accounts import demo_seed
from workflows.models import AuditEvent, Case, Comment, Department, Measure, WorkItem


@dataclass(frozen=True)
class World:
    """Case 2.2 waits for its head approval (draft with evidence submitted by the staff);
    2.3's draft sits unclaimed in the network_work queue; 2.4's draft is claimed by the staff."""

    case: int
    approval: int
    evidence: int
    queued_draft: int
    claimed_draft: int


def _build_world() -> World:
    call_command("load_catalogue", verbosity=0)
    demo_seed(password=DEMO_PASSWORD)
    users = get_user_model().objects
    coordinator = users.get(username="coordinator.office")
    staff = users.get(username="network_work.staff")

    def launched(code):
        return cases_launch.case_launch(measure=Measure.objects.get(code=code), by=coordinator)[0]

    case = launched("2.2")
    draft = services.task_claim(item=open_item_of(case), user=staff)
    evidence = cases_evidence.evidence_add(
        case=case,
        item=draft,
        user=staff,
        upload=SimpleUploadedFile("plan.pdf", b"%PDF-1.4 plan", "application/pdf"),
    )
    services.task_complete(item=draft, user=staff, note="The plan.")
    queued = open_item_of(launched("2.3"))
    claimed = services.task_claim(item=open_item_of(launched("2.4")), user=staff)
    return World(
        case=case.pk,
        approval=open_item_of(case).pk,
        evidence=evidence.pk,
        queued_draft=queued.pk,
        claimed_draft=claimed.pk,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module inside a transaction rolled back at the end (like Django's
    setUpTestData); each test runs in its own savepoint, so tests cannot see each other's
    changes and later modules find an empty database."""
    media = str(tmp_path_factory.mktemp("media"))
    with override_settings(MEDIA_ROOT=media), django_db_blocker.unblock(), transaction.atomic():
        built = _build_world()
        with django_db_blocker.block():
            yield built
        transaction.set_rollback(True)


ROLES = {
    "lead_staff": "network_work.staff",
    "lead_head": "network_work.head",
    "other_head": "finance.head",
    "other_staff": "finance.staff",
    "supervising_leader": "secretary_publicity_network",
    "other_leader": "secretary_organisation",
    "research_office_head": "research_office.head",
    "coordinator": "coordinator.office",
    "auditor": "auditor",
    "anonymous": None,
}


def _item(pk) -> WorkItem:
    return WorkItem.objects.get(pk=pk)


# Each action: (request it makes, whether its effect happened).
ACTIONS = {
    "view_case": (lambda c, w: c.get(reverse("workflows:case", args=[w.case])), None),
    "view_task": (lambda c, w: c.get(reverse("workflows:task", args=[w.approval])), None),
    "claim": (
        lambda c, w: c.post(task_url(_item(w.queued_draft)), {"action": "claim"}),
        lambda w: _item(w.queued_draft).assignee_id is not None,
    ),
    "submit": (
        lambda c, w: c.post(
            task_url(_item(w.claimed_draft)), {"action": "decide", "note": "Our plan."}
        ),
        lambda w: _item(w.claimed_draft).outcome == "submitted",
    ),
    "approve": (
        lambda c, w: c.post(
            task_url(_item(w.approval)), {"action": "decide", "decision": "approve"}
        ),
        lambda w: _item(w.approval).outcome == "approved",
    ),
    "return": (
        lambda c, w: c.post(
            task_url(_item(w.approval)),
            {"action": "decide", "decision": "return", "comment": "Needs a budget."},
        ),
        lambda w: _item(w.approval).outcome == "returned",
    ),
    "reassign": (
        lambda c, w: c.post(
            reverse("workflows:reassign", args=[w.approval]),
            # The approval's own department head: the one who could act on it (the staff
            # member produced the plan, so separation of duties rules them out).
            {"to": "network_work.head", "reason": "Back to the head after the leave."},
        ),
        lambda w: AuditEvent.objects.filter(verb="task_reassigned").exists(),
    ),
    "launch_page": (lambda c, w: c.get(reverse("workflows:launch")), None),
    "launch": (
        lambda c, w: c.post(reverse("workflows:launch"), {"measure": "2.5"}),
        lambda w: Case.objects.filter(measure__code="2.5").exists(),
    ),
    "comment": (
        lambda c, w: c.post(reverse("workflows:comment", args=[w.case]), {"text": "Noted."}),
        lambda w: Comment.objects.exists(),
    ),
    "download": (lambda c, w: c.get(reverse("workflows:evidence", args=[w.evidence])), None),
}

# "ok": allowed (200 for a page, 302 and the effect for an action).
# "refused": the user sees the case, so the page redirects back with the refusal as an
#            error message, and nothing changes.
# 403 / 404: refused outright / the case is invisible to them. "login": sent to log in.
OK, REFUSED, LOGIN = "ok", "refused", "login"
SEES_NOTHING = dict.fromkeys(
    ["view_case", "view_task", "claim", "submit", "approve", "return", "comment", "download"], 404
) | {"reassign": 404, "launch_page": 403, "launch": 403}
READ_ONLY = {
    "view_case": OK,
    "view_task": OK,
    "claim": REFUSED,
    "submit": REFUSED,
    "approve": REFUSED,
    "return": REFUSED,
    "reassign": 403,
    "launch_page": 403,
    "launch": 403,
    "comment": OK,
    "download": OK,
}
EXPECTED = {
    "lead_staff": READ_ONLY | {"claim": OK, "submit": OK},
    "lead_head": READ_ONLY | {"approve": OK, "return": OK},
    "other_head": SEES_NOTHING,
    "other_staff": SEES_NOTHING,
    "supervising_leader": READ_ONLY,
    "other_leader": SEES_NOTHING,
    "research_office_head": SEES_NOTHING,
    "coordinator": READ_ONLY | {"reassign": OK, "launch_page": OK, "launch": OK},
    # Auditors' writes stop at AuditorsReadOnlyMiddleware, before any view runs.
    "auditor": READ_ONLY
    | dict.fromkeys(["claim", "submit", "approve", "return", "reassign", "launch", "comment"], 403),
    "anonymous": dict.fromkeys(ACTIONS, LOGIN),
}


def _snapshot():
    return (
        list(WorkItem.objects.values_list("pk", "status", "assignee_id", "outcome")),
        Case.objects.count(),
        Comment.objects.count(),
        AuditEvent.objects.count(),
    )


def _errors(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level == messages.ERROR]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(db, world, client, role, action):
    if ROLES[role] is not None:
        client.force_login(get_user_model().objects.get(username=ROLES[role]))
    make_request, effect_happened = ACTIONS[action]
    expected = EXPECTED[role][action]
    before = _snapshot()

    response = make_request(client, world)

    if expected == OK:
        if effect_happened is None:
            assert response.status_code == 200
        else:
            assert response.status_code == 302, response.content.decode()[:1000]
            assert not _errors(response)
            assert effect_happened(world)
        return
    if expected == REFUSED:
        assert response.status_code == 302
        assert response.url in (
            reverse("workflows:task", args=[world.approval]),
            reverse("workflows:task", args=[world.queued_draft]),
            reverse("workflows:task", args=[world.claimed_draft]),
            reverse("workflows:case", args=[world.case]) + "#comments",
        )
        assert _errors(response)
    elif expected == LOGIN:
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")
    else:
        assert response.status_code == expected
    assert _snapshot() == before


def test_the_matrix_names_every_role_and_action():
    assert set(EXPECTED) == set(ROLES)
    assert all(set(row) == set(ACTIONS) for row in EXPECTED.values())


# --------------------------------------------------------------------------- spelled out


def test_an_auditor_trying_to_approve_is_refused_and_nothing_changes(db, world, client):
    auditor = get_user_model().objects.get(username="auditor")
    approval = _item(world.approval)
    client.force_login(auditor)
    page = client.get(task_url(approval)).content.decode()
    assert "Auditors have read-only access." in page
    assert 'name="decision"' not in page
    before = _snapshot()

    response = decide(client, auditor, approval, "approve", "Looks fine.")

    assert response.status_code == 403
    assert _snapshot() == before


def test_the_approval_service_refuses_an_auditor(db, world):
    auditor = get_user_model().objects.get(username="auditor")

    with pytest.raises(PermissionDenied, match="read-only"):
        services.task_approve(item=_item(world.approval), user=auditor)

    assert _item(world.approval).is_open


def test_the_head_of_another_department_gets_404_for_everything_on_the_case(db, world, client):
    other_head = get_user_model().objects.get(username="finance.head")
    approval = _item(world.approval)
    client.force_login(other_head)
    before = _snapshot()

    assert client.get(case_url(approval.case)).status_code == 404
    assert client.get(task_url(approval)).status_code == 404
    assert decide(client, other_head, approval, "approve").status_code == 404
    assert decide(client, other_head, approval, "return", "No.").status_code == 404
    assert _snapshot() == before
    with pytest.raises(PermissionDenied, match="not assigned to you"):
        services.task_approve(item=approval, user=other_head)


def test_the_launch_page_is_forbidden_to_everyone_but_coordinators(db, world, client):
    for username in ROLES.values():
        if username is None:
            continue
        client.force_login(get_user_model().objects.get(username=username))
        expected = 200 if username == "coordinator.office" else 403
        assert client.get(reverse("workflows:launch")).status_code == expected, username


def test_a_head_who_is_also_staff_cannot_approve_a_draft_they_submitted(db, world, client):
    head = get_user_model().objects.get(username="network_work.head")
    Department.objects.get(key="network_work").staff.add(head)
    draft = _item(world.queued_draft)
    claim(client, head, draft)
    assert submit(client, head, draft, "My own plan.").status_code == 302
    approval = open_item_of(draft.case)
    assert approval.step.key == "head_approval"
    assert approval.assignee == head and approval.produced_by == head

    page = client.get(task_url(approval)).content.decode()
    assert "Separation of duties" in page
    assert 'name="decision"' not in page
    before = _snapshot()

    response = decide(client, head, approval, "approve", "Fine by me.")

    assert response.status_code == 302 and response.url == task_url(approval)
    assert _errors(response) == [
        "Separation of duties: you submitted this work, so someone else must decide on it."
    ]
    assert _snapshot() == before
    with pytest.raises(PermissionDenied, match="Separation of duties"):
        services.task_approve(item=_item(approval.pk), user=head)
    with pytest.raises(PermissionDenied, match="Separation of duties"):
        services.task_return(item=_item(approval.pk), user=head, reason="Self-review.")
