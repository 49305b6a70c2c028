"""seed_demo: an account per role, in the groups later work relies on, password never hard-coded."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from workflows.common import roles
from workflows.models import Department, LeaderRole, Measure


def _log_in(username: str, password: str):
    # django-axes counts attempts per request, so authentication is asked with one.
    request = RequestFactory().post("/accounts/login/")
    return authenticate(request, username=username, password=password)


def _run(capsys, monkeypatch, password=None):
    if password is None:
        monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DEMO_PASSWORD", password)
    call_command("seed_demo")
    return capsys.readouterr().out


def test_seed_demo_creates_every_role_with_the_environment_password(catalogue, capsys, monkeypatch):
    out = _run(capsys, monkeypatch, "from-the-env-123")
    users = get_user_model().objects
    assert "Password (from DEMO_PASSWORD): from-the-env-123" in out
    for dept in Department.objects.all():
        assert dept.head.groups.filter(name=roles.DEPARTMENT_HEADS).exists()
        assert dept.staff.filter(groups__name=roles.DEPARTMENT_STAFF).count() == 1
        assert f"{dept.key}.head" in out and f"{dept.key}.staff" in out
    for leader in LeaderRole.objects.all():
        assert leader.holder.groups.filter(name=roles.LEADERS).exists()
    assert users.get(username="auditor").groups.filter(name=roles.AUDITORS).exists()
    assert users.filter(groups__name=roles.COORDINATORS).count() == 2
    admin = users.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    # 14 departments x 2 + 11 leaders + 2 coordinators + auditor + admin
    assert users.count() == 14 * 2 + 11 + 2 + 1 + 1
    assert _log_in("network_work.head", "from-the-env-123")


def test_seed_demo_generates_a_random_password_when_none_is_set(catalogue, capsys, monkeypatch):
    first = _run(capsys, monkeypatch).splitlines()[-1]
    second = _run(capsys, monkeypatch).splitlines()[-1]
    assert first.startswith("Password (generated): ")
    password = first.split(": ", 1)[1]
    assert len(password) >= 12 and first != second
    assert get_user_model().objects.count() == 43  # re-running creates no duplicates
    assert _log_in("auditor", second.split(": ", 1)[1])


def test_production_settings_refuse_seed_demo(catalogue, settings, monkeypatch):
    settings.ALLOW_DEMO_SEED = False
    monkeypatch.setenv("DEMO_PASSWORD", "whatever-123")
    with pytest.raises(CommandError, match="disabled"):
        call_command("seed_demo")
    assert not get_user_model().objects.exists()


def test_seed_demo_needs_the_catalogue(db):
    with pytest.raises(CommandError, match="load_catalogue"):
        call_command("seed_demo")


def test_seed_demo_summary_names_one_existing_login_per_role_for_one_measure(
    catalogue, capsys, monkeypatch
):
    _run(capsys, monkeypatch, "summary-pass-123")

    call_command("seed_demo", "--summary")
    out = capsys.readouterr().out

    lines = [line.split() for line in out.splitlines() if line.startswith("    ")]
    usernames = [words[0] for words in lines]
    first = Measure.objects.order_by("aspect__position", "position").first()
    assert usernames == [
        "coordinator.office",
        f"{first.lead_department.key}.staff",
        f"{first.lead_department.key}.head",
        first.supervising_leader.key,
        "auditor",
        "admin",
    ]
    for username in usernames:
        assert _log_in(username, "summary-pass-123"), username
    assert f"measure {first.code}" in out
    assert "Password (all of them): summary-pass-123" in out
    assert get_user_model().objects.count() == 43  # read only


def test_seed_demo_summary_without_accounts_says_to_seed_first(catalogue):
    with pytest.raises(CommandError, match="run python manage.py seed_demo first"):
        call_command("seed_demo", "--summary")
