"""Faults against the real services: a Redis outage during an approval, a worker killed while
it renders, an hour-long SMTP outage, PostgreSQL dropping every connection. Nothing is lost:
the approval stays saved, the report is rendered exactly once, the mail is delivered once,
and the app answers again without a restart."""

import datetime as dt
import hashlib
import signal
import time

import psycopg
import pytest
import time_machine
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from project.celery import app as celery_app
from tests.casework import walk_to_end
from tests.deadline_helpers import beijing
from tests.faults import RedisServer, start_worker, stop_worker, wait_for
from tests.smtp import free_port, start_smtp
from workflows.models import AuditEvent, Notification, Report
from workflows.reports.services import report_list_recover, report_request_programme
from workflows.sweep import sweep_run

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the worker process shares the test database: needs PostgreSQL, as in CI",
)


@pytest.fixture
def broker():
    """The Celery app publishing to a private Redis server (started by the test when it likes)."""
    redis = RedisServer()
    saved = {
        key: celery_app.conf[key]
        for key in ("broker_url", "task_always_eager", "broker_connection_retry")
    }

    def point_at(url):
        celery_app.conf.broker_url = url
        celery_app.close()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_connection_retry = False
    point_at(redis.url)
    yield redis
    redis.stop()
    for key, value in saved.items():
        celery_app.conf[key] = value
    point_at(saved["broker_url"])


@needs_postgresql
def test_redis_down_while_the_last_approval_is_given_loses_nothing(
    transactional_db, launch, client, broker, tmp_path
):
    case = launch("2.2")
    # Redis is down (never started): the sign-off that completes the case still succeeds.
    items = walk_to_end(client, case)
    case.refresh_from_db()
    assert not case.is_open and items[-1].outcome == "approved"
    report = Report.objects.get(case=case, kind="completion")
    assert report.status == "queued"
    assert AuditEvent.objects.filter(case=case, verb="case_completed").count() == 1

    broker.start()  # Redis is back: the sweep re-sends what waited, a real worker renders it
    assert report_list_recover(now=timezone.now() + dt.timedelta(minutes=2)) == 1
    worker = start_worker(broker.url, tmp_path / "worker.log")
    try:
        wait_for(
            lambda: Report.objects.get(pk=report.pk).status == "ready", timeout=90, what="report"
        )
    finally:
        stop_worker(worker)
    report.refresh_from_db()
    assert Report.objects.filter(case=case).count() == 1
    with default_storage.open(report.file.name, "rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == report.sha256
    assert AuditEvent.objects.filter(verb="report_generated", case=case).count() == 1
    case.refresh_from_db()
    assert case.status == "DONE"  # the flow's final background step ran


@needs_postgresql
def test_a_worker_killed_while_rendering_is_retried_without_a_partial_or_duplicate_report(
    transactional_db, coordinator, broker, tmp_path
):
    broker.start()
    log = tmp_path / "worker.log"
    knobs = {"CELERY_VISIBILITY_TIMEOUT": 4, "REPORT_RENDER_STALE_SECONDS": 2}
    worker = start_worker(broker.url, log, **knobs)
    report = report_request_programme(by=coordinator)  # queued on commit to the real Redis
    try:
        wait_for(
            lambda: Report.objects.get(pk=report.pk).status == "rendering",
            timeout=60,
            what="the render to start",
        )
        stop_worker(worker, signal.SIGKILL)  # mid-render: no clean shutdown, no ack
    finally:
        stop_worker(worker)
    killed = Report.objects.get(pk=report.pk)
    assert killed.status == "rendering" and not killed.sha256

    time.sleep(3)
    replacement = start_worker(broker.url, log, **knobs)  # Redis redelivers the unacked task
    try:
        wait_for(
            lambda: Report.objects.get(pk=report.pk).status == "ready",
            timeout=120,
            what="the retried render",
        )
    finally:
        stop_worker(replacement)
    report.refresh_from_db()
    assert Report.objects.filter(kind="programme").count() == 1
    with default_storage.open(report.file.name, "rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == report.sha256
    assert AuditEvent.objects.filter(verb="report_generated").count() == 1


@pytest.mark.without_handoffs
def test_smtp_down_for_an_hour_is_retried_with_backoff_then_delivered_once(launch, open_item):
    with time_machine.travel(beijing(2027, 3, 1, 10), tick=False):
        item = open_item(launch("2.2"))
    port = free_port()
    start = beijing(2027, 3, 19, 9, 0)  # the 1-working-day reminder is due
    attempts_during_outage = []
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_TIMEOUT=2,
    ):
        for minute in range(0, 61):  # the sweep runs every minute; SMTP is down for an hour
            moment = start + dt.timedelta(minutes=minute)
            with time_machine.travel(moment, tick=False):
                sweep_run(now=moment)
            attempts_during_outage.append(Notification.objects.get(work_item=item).attempts)
        logged = Notification.objects.get(work_item=item)
        assert logged.status == "pending" and logged.sent_at is None
        # Backoff: attempts at 0, 1, 3, 7, 15, 31 minutes (then every hour), not 61 of them.
        assert logged.attempts == 6
        assert sorted(set(attempts_during_outage)) == [1, 2, 3, 4, 5, 6]

        controller, inbox = start_smtp(port)
        try:
            for minute in range(61, 100):
                moment = start + dt.timedelta(minutes=minute)
                with time_machine.travel(moment, tick=False):
                    sweep_run(now=moment)
        finally:
            controller.stop()
    assert len(inbox.messages) == 1
    logged.refresh_from_db()
    assert (logged.status, logged.attempts) == ("sent", 7)


@needs_postgresql
def test_the_app_recovers_by_itself_when_postgresql_drops_every_connection(
    transactional_db, demo_users, tmp_path
):
    import urllib.error
    import urllib.request

    from tests.faults import start_web

    session = Client()
    session.force_login(demo_users("coordinator.office"))
    cookie = f"sessionid={session.cookies['sessionid'].value}"
    # gunicorn as in production: persistent connections (CONN_MAX_AGE) with health checks.
    web, base_url = start_web(tmp_path / "web.log", CONN_MAX_AGE=60)

    def get(path: str) -> tuple[int, str]:
        request = urllib.request.Request(  # noqa: S310 - our own server on loopback
            base_url + path, headers={"Cookie": cookie, "Host": "127.0.0.1"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    try:
        first_status, first_body = get("/workflows/dashboard/")
        assert first_status == 200 and "data-measure" in first_body, first_body[:300]
        mine = connection.cursor().connection.info.backend_pid
        # What a server restart does to its clients: every connection of the app dies.
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s AND pid <> pg_backend_pid()",
                [connection.settings_dict["NAME"], mine],
            ).fetchone()[0]
        assert killed >= 1
        status, body = get("/workflows/dashboard/")
        # Django's health check reconnects at the start of the request, or the request fails
        # cleanly (no traceback, no SQL) and the broken connection is dropped after it.
        assert status in (200, 500)
        if status == 500:
            assert "Traceback" not in body and "SELECT" not in body
        again, again_body = get("/workflows/dashboard/")
        assert again == 200 and "data-measure" in again_body, again_body[:300]
        api_status, api_body = get("/api/v1/measures/")
        assert api_status == 200, api_body[:300]
    finally:
        stop_worker(web)
