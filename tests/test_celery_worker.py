"""End to end on real services: a Celery worker with beat, on Redis, fires a deadline and the
escalation reaches a real SMTP server. Needs PostgreSQL (the worker shares the test database)
and Redis; CI has both."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.smtp import free_port, start_smtp
from workflows.models import Escalation, Notification

REDIS_URL = os.environ.get("REDIS_URL", "")
ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not REDIS_URL,
        reason="needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL), as in CI",
    ),
]


def _redis_test_url() -> str:
    # A database index of its own, emptied first, so no stale message from another run counts.
    import redis

    url = REDIS_URL.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(url).flushdb()
    return url


def _real_services(smtp_port: int) -> dict:
    """The environment of a process run with the real settings: the test database, a Redis
    database of its own and the SMTP server on `smtp_port`."""
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings.local",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": _redis_test_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        # The test runs at any hour of the real clock: no quiet hours holding the mail back.
        "NOTIFICATION_QUIET_HOURS": "",
    }


def wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _rungs(inbox) -> list:
    return [m for m in inbox.messages if m["X-Reformflow-Kind"] == "escalation"]


def test_worker_and_beat_on_redis_fire_an_overdue_deadline(
    transactional_db, launch, open_item, tmp_path
):
    item = open_item(launch("2.2"))
    # The task's due date passed an hour ago: rung 1 is due now.
    type(item).objects.filter(pk=item.pk).update(
        due_at=timezone.now() - timezone.timedelta(hours=1)
    )

    port = free_port()
    controller, inbox = start_smtp(port)
    env = {**_real_services(port), "SWEEP_INTERVAL_SECONDS": "2"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "project",
            "worker",
            "--beat",
            "--pool",
            "solo",
            "--loglevel",
            "info",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: len(_rungs(inbox)) >= 2, timeout=90, what="rung 1 mail")
        time.sleep(6)  # at least two more sweeps: they must not send it again
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        controller.stop()
    log = (tmp_path / "worker.log").read_text()
    assert "tasks.timers.sweep" in log, log[-3000:]
    assert sorted(m["To"] for m in _rungs(inbox)) == [
        "network_work.head@example.org",
        "network_work.staff@example.org",
    ], log[-3000:]
    assert all("Escalation (rung 1)" in m["Subject"] for m in _rungs(inbox))
    # The rest is the launch's hand-off: the draft is new in the department's queue.
    others = [m for m in inbox.messages if m not in _rungs(inbox)]
    assert {m["X-Reformflow-Kind"] for m in others} <= {"handoff"}
    assert Escalation.objects.filter(work_item=item).count() == 1
    assert set(Notification.objects.filter(work_item=item).values_list("status", flat=True)) == {
        "sent"
    }


def test_a_level_cascade_runs_as_a_job_on_a_worker_on_redis(transactional_db, catalogue, tmp_path):
    """A cascade past the inline limit is queued by the request, which answers at once; a real
    worker on Redis makes the children and counts its progress to the end."""
    from django.contrib.auth import get_user_model

    from tests.conftest import DEMO_PASSWORD
    from workflows.cases.launch import case_launch
    from workflows.demo.accounts import demo_seed
    from workflows.models import CascadeJob, Case, Measure

    demo_seed(password=DEMO_PASSWORD, provinces=3, prefectures=1)
    coordinator = get_user_model().objects.get(username="coordinator.office")
    national, _ = case_launch(measure=Measure.objects.get(code="3.1"), by=coordinator)
    port = free_port()
    controller, _inbox = start_smtp(port)
    env = _real_services(port)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo"]
        + ["--loglevel", "info"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # The request, in a process of its own with the real settings: three provinces are past an
    # inline limit of two, so the service queues a job and returns it without waiting.
    request = (
        "from django.contrib.auth import get_user_model\n"
        "from workflows.cases import cascade_jobs\n"
        "from workflows.models import Case\n"
        "cascade_jobs.CASCADE_INLINE_MAX = 2\n"
        f"job = cascade_jobs.cascade_request(case=Case.objects.get(pk={national.pk}),"
        " by=get_user_model().objects.get(username='coordinator.office'), level='provincial')\n"
        "print('answered', type(job).__name__, job.state, job.done, job.total)\n"
    )
    try:
        answer = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", request],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert "answered CascadeJob queued 0 3" in answer.stdout, answer.stdout + answer.stderr
        job = CascadeJob.objects.get(case=national)
        wait_for(
            lambda: CascadeJob.objects.get(pk=job.pk).is_finished, timeout=90, what="the job's end"
        )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        controller.stop()
    log = (tmp_path / "worker.log").read_text()
    job.refresh_from_db()
    assert (job.state, job.done, job.failed, job.total) == ("done", 3, 0, 3), log[-3000:]
    assert job.percent == 100
    children = Case.objects.filter(parent_case=national)
    assert sorted(children.values_list("organisation__code", flat=True)) == [
        "beijing",
        "guangdong",
        "shanghai",
    ]
    assert "tasks.cascades.run_cascade_job" in log and "succeeded" in log, log[-3000:]
