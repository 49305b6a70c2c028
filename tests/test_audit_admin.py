"""The admin: every add, change and delete is on the audit trail; auditors get view only."""

import datetime

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.authtoken.models import Token

from workflows.audit.admin import AuditedAdmin
from workflows.audit.trail import audit_verify
from workflows.models import AuditEvent, Measure, OrganisationLevel


def form_data(form) -> dict:
    """What a browser would post back for an unchanged form (fields and hidden inputs)."""
    data = {}
    for bound in form:
        if bound.field.show_hidden_initial:
            # Fields with a callable default also post their initial value, hidden.
            data[bound.html_initial_name] = bound.field.prepare_value(bound.initial)
        value = bound.value()
        if value is None or value is False:
            continue
        if value is True:
            data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        else:
            data[bound.html_name] = value
    return data


def change_page_data(response) -> dict:
    """The change page's main form and every inline formset, as posted unchanged."""
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data |= form_data(inline.formset.management_form)
        for form in inline.formset.forms:
            data |= form_data(form)
    return data


@pytest.fixture
def admin_client(client, demo_users):
    client.force_login(demo_users("admin"))
    return client


def test_every_registered_admin_class_is_audited():
    not_audited = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, AuditedAdmin)
    ]
    assert not_audited == []
    assert len(admin.site._registry) >= 14


def test_an_admin_change_to_a_measure_is_audited_with_the_changed_fields(admin_client):
    measure = Measure.objects.get(code="2.2")
    url = reverse("admin:workflows_measure_change", args=[measure.pk])
    data = change_page_data(admin_client.get(url))
    first_step = measure.steps.order_by("position").first()
    step_prefix = next(k for k, v in data.items() if k.endswith("-id") and v == first_step.pk)
    data["title_en"] = "Build the union database, revised"
    data["target_months"] = 24
    data[step_prefix.replace("-id", "-working_days")] = 12
    before = AuditEvent.objects.count()

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.get(verb="admin_changed")
    assert event.actor.username == "admin"
    assert event.data["model"] == "workflows.measure"
    assert event.data["object_id"] == str(measure.pk)
    assert event.data["fields"] == {
        "title_en": {"from": measure.title_en, "to": "Build the union database, revised"},
        "target_months": {"from": measure.target_months, "to": 24},
    }
    # The inline step's change is in the message Django's own admin log keeps.
    [step_change] = [m["changed"] for m in event.data["message"] if "changed" in m][1:]
    assert step_change["name"] == "step template"
    assert step_change["fields"] == ["Working days"]
    assert AuditEvent.objects.count() == before + 1
    assert audit_verify().ok


def test_admin_add_and_delete_are_audited_including_the_bulk_delete_action(admin_client):
    add_url = reverse("admin:workflows_organisationlevel_add")
    for key, rank in (("district", 5), ("street", 6)):
        response = admin_client.post(
            add_url, {"key": key, "title_en": key.title(), "title_zh": "", "rank": rank}
        )
        assert response.status_code == 302
    district = OrganisationLevel.objects.get(key="district")
    street = OrganisationLevel.objects.get(key="street")

    response = admin_client.post(
        reverse("admin:workflows_organisationlevel_delete", args=[district.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    response = admin_client.post(
        reverse("admin:workflows_organisationlevel_changelist"),
        {"action": "delete_selected", "_selected_action": [street.pk], "post": "yes"},
    )
    assert response.status_code == 302

    events = AuditEvent.objects.filter(verb__startswith="admin_").order_by("pk")
    assert [(e.verb, e.data["object"]) for e in events] == [
        ("admin_added", "District"),
        ("admin_added", "Street"),
        ("admin_deleted", "District"),
        ("admin_deleted", "Street"),
    ]
    assert events[0].data["fields"]["rank"] == {"from": None, "to": 5}
    assert not OrganisationLevel.objects.filter(key__in=["district", "street"]).exists()


def test_a_new_users_password_never_reaches_the_trail(admin_client):
    response = admin_client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "new.clerk",
            "usable_password": "true",
            "password1": "A-long-Secret-9981",
            "password2": "A-long-Secret-9981",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors

    event = AuditEvent.objects.get(verb="admin_added")
    assert event.data["model"] == "auth.user"
    assert event.data["fields"] == {"username": {"from": None, "to": "new.clerk"}}
    assert "A-long-Secret-9981" not in str(event.data)


# --------------------------------------------------------------------------- auditors


@pytest.fixture
def staff_auditor(auditor, launch):
    """The auditor with is_staff and every model permission Django has: only the auditor
    rule can stop them. A launched case and a token give every admin model a row."""
    case = launch("2.2")
    Token.objects.create(user=auditor)
    # The deadline records: a calendar override, a moved deadline, an escalation, a message.
    from django.utils import timezone

    from workflows.deadlines.due_dates import deadline_extend
    from workflows.models import CalendarDay, WorkItem
    from workflows.sweep import sweep_run

    CalendarDay.objects.create(date=timezone.now().date(), kind="holiday", name="test")
    item = WorkItem.objects.get(case=case, status="open")
    coordinator = get_user_model().objects.get(username="coordinator.office")
    # Three years ahead: within the date horizon (workflows.common.bounds).
    later = timezone.now().date() + datetime.timedelta(days=3 * 365)
    deadline_extend(item=item, by=coordinator, new_date=later, reason="x")
    item.refresh_from_db()
    sweep_run(now=item.due_at + datetime.timedelta(days=365), deliver=False)
    auditor.is_staff = True
    auditor.save(update_fields=["is_staff"])
    auditor.user_permissions.set(Permission.objects.all())
    return get_user_model().objects.get(pk=auditor.pk)


def _row_counts():
    return {model: model._default_manager.count() for model in admin.site._registry}


def test_an_auditor_with_staff_status_and_every_permission_gets_a_view_only_admin(
    client, staff_auditor
):
    client.force_login(staff_auditor)
    events_before = AuditEvent.objects.count()
    rows_before = _row_counts()
    request = RequestFactory().get("/admin/")
    request.user = staff_auditor
    walked = []

    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        obj = model._default_manager.first()
        if obj is None:
            # Supervision records this small world has not produced: the add form and the
            # permissions still must refuse the auditor.
            add = reverse(f"admin:{info[0]}_{info[1]}_add")
            assert not model_admin.has_add_permission(request)
            assert client.get(add).status_code == 403, add
            assert client.post(add, {}).status_code == 403, add
            walked.append(model._meta.label)
            continue
        add, change, delete, changelist = (
            reverse(f"admin:{info[0]}_{info[1]}_{what}", args=args)
            for what, args in (
                ("add", []),
                ("change", [obj.pk]),
                ("delete", [obj.pk]),
                ("changelist", []),
            )
        )
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request, obj)
        assert not model_admin.has_delete_permission(request, obj)

        assert client.get(add).status_code == 403, add
        assert client.post(add, {}).status_code == 403, add
        assert client.get(delete).status_code == 403, delete
        assert client.post(delete, {"post": "yes"}).status_code == 403, delete
        assert client.post(change, {}).status_code == 403, change
        bulk_delete = {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
        assert client.post(changelist, bulk_delete).status_code == 403, changelist
        page = client.get(change)
        if model_admin.auditors_may_view:
            assert page.status_code == 200, change
            assert 'name="_save"' not in page.content.decode(), change
        else:
            assert page.status_code == 403, change  # API tokens are credentials
        walked.append(model._meta.label)

    assert _row_counts() == rows_before
    assert AuditEvent.objects.count() == events_before
    assert {"workflows.Measure", "auth.User", "auth.Group", "viewflow.Task"} <= set(walked)
