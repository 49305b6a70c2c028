"""Work split into queues: sweeps, notifications and renders each on their own queue, so a
burst of renders never holds mail back; a worker without -Q (the embedded demo) takes all."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from project.celery import QUEUES
from project.celery import app as project_app
from tests.faults import wait_for
from tests.smtp import free_port, start_smtp
from tests.test_faults import broker  # noqa: F401 - the private Redis fixture
from workflows.models import AuditEvent, Report, ReportStatus
from workflows.reports.services import report_request_programme
from workflows.sweep import sweep_run

ROOT = Path(__file__).resolve().parent.parent

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the workers share the test database: needs PostgreSQL, as in CI",
)


def _queue_of(task_name: str) -> str:
    return project_app.amqp.router.route({}, task_name)["queue"].name


def test_each_kind_of_work_has_its_own_queue():
    assert _queue_of("tasks.timers.sweep") == "sweep"
    assert _queue_of("tasks.notifications.deliver") == "notify"
    assert _queue_of("tasks.notifications.daily_digest") == "notify"
    assert _queue_of("tasks.reports.render_report") == "reports"
    assert _queue_of("tasks.timers.appraisal_monthly") == "reports"
    assert _queue_of("tasks.something_new") == "celery"


def test_every_registered_task_goes_to_a_queue_that_a_plain_worker_consumes():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from project.celery import app; "
            "app.loader.import_default_modules(); "
            "print(json.dumps(sorted(n for n in app.tasks if n.startswith('tasks.'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    names = json.loads(out.splitlines()[-1])
    assert names
    # A worker started without -Q consumes app.conf.task_queues: every queue.
    consumed = {queue.name for queue in project_app.conf.task_queues}
    assert consumed == set(QUEUES)
    assert {_queue_of(name) for name in names} <= consumed


def _worker(env: dict, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--loglevel", "info"]
        + ["--without-gossip", "--without-mingle", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    process.wait(timeout=30)


def _worker_env(**extra) -> dict:
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings.local",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "NOTIFICATION_QUIET_HOURS": "",
        **extra,
    }


def _rung_mail(inbox) -> list:
    return [m for m in inbox.messages if m["X-Reformflow-Kind"] == "escalation"]


def _ready_mail(inbox) -> list:
    return [m for m in inbox.messages if m["X-Reformflow-Kind"] == "report"]


@needs_postgresql
def test_a_burst_of_renders_waits_in_its_queue_while_mail_goes_out(
    transactional_db,
    broker,  # noqa: F811 - the fixture imported above
    coordinator,
    launch,
    open_item,
    tmp_path,
):
    import redis

    # The project's app answers for the shared tasks (other tests may have made another app
    # current), and publishes to the private Redis the fixture started.
    project_app.set_current()
    broker.start()
    queues = redis.Redis.from_url(broker.url)
    item = open_item(launch("2.2"))
    type(item).objects.filter(pk=item.pk).update(
        due_at=timezone.now() - timezone.timedelta(hours=1),
        next_alert_at=timezone.now() - timezone.timedelta(hours=1),
    )
    sweep_run(deliver=False)  # rung 1: two messages in the log, to the staff and the head
    reports = [report_request_programme(by=coordinator) for _ in range(4)]
    project_app.send_task("tasks.notifications.deliver")
    assert (queues.llen("reports"), queues.llen("notify"), queues.llen("celery")) == (4, 1, 0)

    port = free_port()
    controller, inbox = start_smtp(port)
    env = _worker_env(REDIS_URL=broker.url, EMAIL_URL=f"smtp://127.0.0.1:{port}")
    # One worker per queue, as in production; the renderer takes one report at a time.
    renderer = _worker(env, tmp_path / "reports.log", "-Q", "reports", "--concurrency", "1")
    mailer = _worker(env, tmp_path / "notify.log", "-Q", "notify", "--concurrency", "1")
    try:
        wait_for(lambda: len(_rung_mail(inbox)) == 2, timeout=90, what="the rung 1 mail")
        ready_when_mailed = Report.objects.filter(status=ReportStatus.READY).count()
        wait_for(
            lambda: Report.objects.filter(status=ReportStatus.READY).count() == 4,
            timeout=180,
            what="the four reports",
        )
        # Each render records its "ready" notice in the log; the next delivery (the sweep's,
        # every minute in production) sends them, on the notify queue.
        project_app.send_task("tasks.notifications.deliver")
        wait_for(lambda: len(_ready_mail(inbox)) == 4, timeout=90, what="the four ready mails")
    finally:
        _stop(renderer)
        _stop(mailer)
        controller.stop()
    log = (tmp_path / "reports.log").read_text() + (tmp_path / "notify.log").read_text()
    assert ready_when_mailed < 4, log[-3000:]
    assert "Task tasks.notifications.deliver[" not in (tmp_path / "reports.log").read_text()
    assert "Task tasks.reports.render_report[" not in (tmp_path / "notify.log").read_text()
    generated = AuditEvent.objects.filter(verb="report_generated")
    assert sorted(e.data["report"] for e in generated) == sorted(r.pk for r in reports)
    # Each report's "ready" mail went out once, through the log, from the mailer.
    assert len(_rung_mail(inbox)) == 2 and len(_ready_mail(inbox)) == 4
    assert "Task tasks.notifications.deliver[" in (tmp_path / "notify.log").read_text()
    assert not queues.llen("reports") and not queues.llen("notify")


@needs_postgresql
def test_the_embedded_worker_without_q_consumes_every_queue_on_the_filesystem_broker(
    transactional_db, tmp_path
):
    # Without Redis the cache (worker heartbeat, last sweep) is this table: `make migrate`.
    call_command("createcachetable", "reformflow_cache", verbosity=0)
    folder = tmp_path / "celery"
    for sub in ("queue", "control"):
        (folder / sub).mkdir(parents=True)
    publisher = Celery("queues-test", broker="filesystem://", set_as_current=False)
    publisher.conf.update(
        broker_transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
        },
        task_queues=project_app.conf.task_queues,
        task_routes=project_app.conf.task_routes,
        task_default_queue=project_app.conf.task_default_queue,
    )
    for name, args in (
        ("tasks.timers.sweep", []),
        ("tasks.notifications.deliver", []),
        ("tasks.reports.render_report", [0]),  # no such report: claimed by nobody, a no-op
    ):
        publisher.send_task(name, args=args)
    publisher.close()
    files = sorted(path.name.split(".")[-2] for path in (folder / "queue").glob("*.msg"))
    assert files == ["notify", "reports", "sweep"]

    log = tmp_path / "worker.log"
    worker = _worker(_worker_env(REDIS_URL="", CELERY_QUEUE_DIR=str(folder)), log, "--pool", "solo")
    try:
        wait_for(
            lambda: log.read_text().count(" succeeded in ") >= 3,
            timeout=90,
            what="the three tasks",
        )
    finally:
        _stop(worker)
    text = log.read_text()
    for name in ("timers.sweep", "notifications.deliver", "reports.render_report"):
        assert f"Task tasks.{name}[" in text, text[-3000:]
    assert not list((folder / "queue").glob("*.msg"))
