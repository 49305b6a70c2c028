"""Security: login throttling, the Content Security Policy, CSRF, cookies, error pages that
leak nothing, and user text escaped on the pages."""

import os
import re
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.casework import case_url, claim, decide, open_item_of, submit, task_url
from tests.conftest import DEMO_PASSWORD
from workflows.cases import selectors
from workflows.models import Comment

LOGIN = "/accounts/login/"
XSS = '<script>alert("xss")</script>'

# --------------------------------------------------------------------------- login throttling


def _try_login(client, username, password, ip="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_lock_the_username_at_that_address_out_for_15_minutes(client, demo_users):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for attempt in range(1, 5):
            response = _try_login(client, "network_work.staff", "wrong")
            assert response.status_code == 200, attempt  # the form again, with its error
        fifth = _try_login(client, "network_work.staff", "wrong")
        assert fifth.status_code == 429
        assert "Too many failed logins" in fifth.content.decode()

        # Locked: even the right password is refused from that address...
        assert _try_login(client, "network_work.staff", DEMO_PASSWORD).status_code == 429
        # ...but the same user from elsewhere, and another user from there, still log in.
        assert _try_login(Client(), "network_work.staff", DEMO_PASSWORD, "10.0.0.2").status_code
        assert _try_login(Client(), "network_work.head", DEMO_PASSWORD).status_code == 302

        clock.shift(timedelta(minutes=14))
        assert _try_login(client, "network_work.staff", DEMO_PASSWORD).status_code == 429
        # Any attempt during the lockout restarts the 15 minutes: 16 minutes after the fifth
        # failure it is still locked, 15 minutes after the last attempt it is open again.
        clock.shift(timedelta(minutes=2))
        assert _try_login(client, "network_work.staff", DEMO_PASSWORD).status_code == 429
        clock.shift(timedelta(minutes=15, seconds=1))
        response = _try_login(client, "network_work.staff", DEMO_PASSWORD)
        assert response.status_code == 302 and response.url == "/"


def test_a_locked_out_pair_can_be_reset_by_an_administrator(client, demo_users):
    for _ in range(5):
        _try_login(client, "auditor", "wrong")
    assert _try_login(client, "auditor", DEMO_PASSWORD).status_code == 429

    call_command("axes_reset_username", "auditor")

    assert _try_login(client, "auditor", DEMO_PASSWORD).status_code == 302


def test_a_successful_login_resets_the_failure_count(client, demo_users):
    for _ in range(4):
        _try_login(client, "auditor", "wrong")
    assert _try_login(client, "auditor", DEMO_PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert _try_login(client, "auditor", "wrong").status_code == 200


def test_the_api_keeps_working_with_session_and_token_authentication(demo_users, launch):
    launch("2.2")
    staff = demo_users("network_work.staff")
    session = APIClient()
    assert _try_login(session, "network_work.staff", DEMO_PASSWORD).status_code == 302
    assert session.get("/api/v1/tasks/").status_code == 200

    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    assert token.get("/api/v1/tasks/").status_code == 200


# --------------------------------------------------------------------------- CSP and headers


class _ScriptScan(HTMLParser):
    """Collects inline scripts (without src) and inline event-handler attributes."""

    def __init__(self):
        super().__init__()
        self.inline_scripts: list[dict] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes:
            # JSON data blocks are not executed, so the policy does not apply to them.
            if attributes.get("type") not in ("application/json", "application/ld+json"):
                self.inline_scripts.append(attributes)
        self.handlers += [f"<{tag} {name}>" for name, _ in attrs if name.startswith("on")]


def _csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()} | {
        "_raw": [header]
    }


@pytest.fixture
def pages(client, demo_users, launch):
    """Our pages, viewflow's engine pages, the admin and the login page, as who may see them."""
    case = launch("2.2")
    item = open_item_of(case)
    return [
        (None, LOGIN),
        ("network_work.staff", reverse("workflows:index")),
        ("network_work.staff", case_url(case)),
        ("network_work.staff", task_url(item)),
        ("coordinator.office", reverse("workflows:launch")),
        ("coordinator.office", reverse("workflows:dashboard")),
        ("coordinator.office", reverse("engine:measure:process_list")),
        ("coordinator.office", reverse("engine:measure:process_detail", args=[case.pk])),
        ("coordinator.office", reverse("engine:measure:chart")),
        ("admin", reverse("admin:index")),
        ("admin", reverse("admin:workflows_measure_changelist")),
    ]


def test_every_page_sends_a_strict_policy_and_runs_no_unnonced_inline_script(
    client, demo_users, pages
):
    for username, url in pages:
        client.logout()
        if username:
            client.force_login(demo_users(username))
        response = client.get(url)
        assert response.status_code == 200, url
        policy = _csp(response)
        assert policy["default-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
        scripts = policy["script-src"]
        assert "'self'" in scripts and "'unsafe-inline'" not in scripts, url
        assert "'unsafe-eval'" not in scripts, url
        nonces = {s[len("'nonce-") : -1] for s in scripts if s.startswith("'nonce-")}
        scan = _ScriptScan()
        scan.feed(response.content.decode())
        assert scan.handlers == [], (url, scan.handlers)
        for attributes in scan.inline_scripts:
            assert attributes.get("nonce") in nonces, (url, attributes)
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_the_language_switch_works_without_inline_script(client, demo_users):
    client.force_login(demo_users("network_work.staff"))
    page = client.get(reverse("workflows:index")).content.decode()

    assert "data-rf-autosubmit" in page and "onchange" not in page
    script = Path(django_settings.BASE_DIR, "static", "workflows", "app.js").read_text()
    assert "[data-rf-autosubmit]" in script
    assert 'src="/static/workflows/app.js"' in page


def test_our_templates_hold_no_inline_script_or_handler():
    offenders = []
    for path in Path(django_settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+=", text):
            offenders.append(str(path))
    assert offenders == []


# --------------------------------------------------------------------------- CSRF


def test_a_page_form_posted_without_its_csrf_token_is_refused(demo_users, launch):
    case = launch("2.2")
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo_users("network_work.staff"))
    comment_url = reverse("workflows:comment", args=[case.pk])

    refused = client.post(comment_url, {"text": "Forged."})

    assert refused.status_code == 403
    assert not Comment.objects.exists()

    page = client.get(case_url(case)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    accepted = client.post(comment_url, {"text": "Real.", "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert list(Comment.objects.values_list("text", flat=True)) == ["Real."]


def test_a_task_decision_without_a_csrf_token_is_refused(demo_users, launch):
    case = launch("2.2")
    item = open_item_of(case)
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo_users("network_work.staff"))

    assert client.post(task_url(item), {"action": "claim"}).status_code == 403
    item.refresh_from_db()
    assert item.assignee_id is None


# --------------------------------------------------------------------------- error pages


def test_error_pages_show_no_stack_ids_or_exception_text(client, demo_users, launch, monkeypatch):
    assert django_settings.DEBUG is False
    case = launch("2.2")
    client.force_login(demo_users("network_work.staff"))

    missing = client.get(reverse("workflows:case", args=[987654]))
    assert missing.status_code == 404
    body = missing.content.decode()
    assert "Not found" in body and "987654" not in body and "Traceback" not in body

    forbidden = client.get(reverse("workflows:launch"))
    assert forbidden.status_code == 403
    assert "Not allowed" in forbidden.content.decode()

    def broken(case_id):
        raise RuntimeError(f"secret detail of case {case_id} at /srv/reformflow")

    monkeypatch.setattr(selectors, "case_get_detail", broken)
    client.raise_request_exception = False
    crashed = client.get(case_url(case))
    assert crashed.status_code == 500
    body = crashed.content.decode()
    assert "Something went wrong" in body
    for leak in ("secret detail", "/srv/reformflow", "Traceback", "RuntimeError", case_url(case)):
        assert leak not in body, leak


def test_api_errors_name_no_model_or_stack(demo_users):
    client = APIClient()
    client.force_authenticate(demo_users("network_work.staff"))

    response = client.get("/api/v1/cases/987654/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --------------------------------------------------------------------------- escaping


def test_text_users_write_is_escaped_on_the_case_and_task_pages(
    client, demo_users, launch, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    case = launch("2.2")
    staff = demo_users("network_work.staff")
    staff.first_name, staff.last_name = XSS, "<b>bold</b>"
    staff.save()
    item = open_item_of(case)
    claim(client, staff, item)
    evidence = SimpleUploadedFile(f"{XSS}.pdf", b"%PDF-1.4 plan", "application/pdf")
    assert submit(client, staff, item, f"Plan {XSS}", files=[evidence]).status_code == 302
    client.post(reverse("workflows:comment", args=[case.pk]), {"text": f"Note {XSS}"})
    approval = open_item_of(case)
    decide(client, demo_users("network_work.head"), approval, "return", f"Redo {XSS}")

    client.force_login(demo_users("coordinator.office"))
    for url in (case_url(case), task_url(item), task_url(approval)):
        page = client.get(url).content.decode()
        assert XSS not in page and "<b>bold</b>" not in page, url
        assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in page, url
    case_page = client.get(case_url(case)).content.decode()
    for escaped_text in ("Note &lt;script&gt;", "Redo &lt;script&gt;", "&lt;script&gt;alert("):
        assert escaped_text in case_page


# --------------------------------------------------------------------------- deployment check


def test_production_settings_pass_the_deployment_check():
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings.production",
        "SECRET_KEY": "k" * 20 + "-production-check-" + "q" * 20,
        "ALLOWED_HOSTS": "reformflow.example",
        "DATABASE_URL": "postgres://reformflow@db.example/reformflow",
    }
    # DJANGO_ALLOW_ASYNC_UNSAFE: the browser tests set it for their live server.
    unsafe = ("DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    for name in unsafe:
        environ.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --------------------------------------------------------------------------- out-of-range ids

HUGE_ID = 2**64 + 7  # matches <int:...> routes, fits no database column


@pytest.mark.parametrize(
    "url",
    [
        f"/workflows/cases/{HUGE_ID}/",
        f"/workflows/tasks/{HUGE_ID}/",
        f"/workflows/evidence/{HUGE_ID}/",
        f"/engine/measure/{HUGE_ID}/",
    ],
)
def test_an_id_too_large_for_the_database_is_a_404_page_not_a_500(client, coordinator, url):
    client.force_login(coordinator)
    client.raise_request_exception = False

    response = client.get(url)

    assert response.status_code == 404
    assert "Not found" in response.content.decode()


@pytest.mark.parametrize("url", [f"/api/v1/cases/{HUGE_ID}/", "/api/v1/tasks/abc/"])
def test_api_urls_that_match_no_row_or_route_answer_json(coordinator, url):
    client = APIClient()
    client.force_authenticate(coordinator)

    response = client.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_malformed_page_parameter_is_a_400_not_the_first_page(coordinator, launch):
    launch("2.2")
    client = APIClient()
    client.force_authenticate(coordinator)

    for query in ("offset=abc", "offset=-1", "limit=0", "limit=x"):
        response = client.get(f"/api/v1/cases/?{query}")
        assert response.status_code == 400, query
        assert "must be a whole number" in response.json()["detail"]
    assert client.get("/api/v1/cases/?limit=1&offset=0").json()["count"] == 1


def test_a_nul_character_in_a_filter_is_a_clear_400_not_a_server_error(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/api/v1/cases/", {"organisation": "acftu\x00"})
    assert response.status_code == 400
    assert b"NUL" in response.content
