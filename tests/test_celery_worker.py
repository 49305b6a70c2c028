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
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings.local",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": _redis_test_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "SWEEP_INTERVAL_SECONDS": "2",
        # The test runs at any hour of the real clock: no quiet hours holding the mail back.
        "NOTIFICATION_QUIET_HOURS": "",
    }
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
