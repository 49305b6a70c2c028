"""Exactly one beat: the lease in the database, the scheduler that honours it, and two real
`celery beat` processes on one schedule, on Redis and on the embedded filesystem broker."""

import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from project.celery import app as project_app
from tests.faults import RedisServer, wait_for
from workflows.common.beat_lock import (
    SingleBeatScheduler,
    beat_lease_hold,
    beat_lease_last_runs,
    beat_lease_record_run,
    beat_lease_release,
)
from workflows.models import BeatLease

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.fromisoformat("2027-03-01T08:30:00+08:00")


# --------------------------------------------------------------------------- the lease


def test_the_first_beat_takes_the_lease_and_renews_it_and_a_second_waits(db):
    assert beat_lease_hold(holder="first", seconds=30)
    assert not beat_lease_hold(holder="second", seconds=30)
    assert beat_lease_hold(holder="first", seconds=30)
    assert BeatLease.objects.get().holder == "first"


def test_an_expired_lease_goes_to_the_next_beat(db):
    # A lease that expired a second ago: its holder stopped renewing (the host died).
    assert beat_lease_hold(holder="first", seconds=-1)
    assert beat_lease_hold(holder="second", seconds=30)
    assert not beat_lease_hold(holder="first", seconds=30)


def test_only_the_holder_records_a_run_and_the_next_holder_reads_it(db):
    assert beat_lease_hold(holder="first", seconds=30)
    assert beat_lease_record_run(holder="first", entry="sweep", at=NOW, seconds=30)
    assert not beat_lease_record_run(holder="second", entry="digest", at=NOW, seconds=30)
    beat_lease_release(holder="first")
    assert beat_lease_hold(holder="second", seconds=30)
    assert beat_lease_last_runs() == {"sweep": NOW}


def test_a_holder_whose_lease_expired_may_not_send(db):
    assert beat_lease_hold(holder="first", seconds=-1)
    assert not beat_lease_record_run(holder="first", entry="sweep", at=NOW, seconds=30)


# --------------------------------------------------------------------------- the scheduler


@pytest.fixture
def memory_app():
    """The project's queues and routes on kombu's in-memory broker, with an entry due at
    every tick, so each tick of the leading scheduler sends exactly one message."""
    test_app = Celery("beat-lock-test", broker="memory://", set_as_current=False)
    test_app.conf.update(
        task_queues=project_app.conf.task_queues,
        task_routes=project_app.conf.task_routes,
        beat_schedule={"sweep": {"task": "tasks.timers.sweep", "schedule": 0.0}},
        beat_scheduler="workflows.common.beat_lock:SingleBeatScheduler",
    )
    yield test_app
    test_app.close()


def _queued(test_app, queue: str) -> int:
    with test_app.connection_for_read() as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def test_two_schedulers_on_one_database_send_only_from_the_leaseholder(
    transactional_db, memory_app, tmp_path, settings
):
    settings.BEAT_LEASE_SECONDS = 30
    first = SingleBeatScheduler(app=memory_app, schedule_filename=str(tmp_path / "first"))
    second = SingleBeatScheduler(app=memory_app, schedule_filename=str(tmp_path / "second"))
    try:
        for _ in range(3):
            first.tick()
            second.tick()
        assert (first.leading, second.leading) == (True, False)
        assert _queued(memory_app, "sweep") == 3
        first.close()  # a clean stop gives the lease up: the standby need not wait for expiry
        second.tick()
        assert second.leading
        assert _queued(memory_app, "sweep") == 4
        assert beat_lease_last_runs().keys() == {"sweep"}
    finally:
        second.close()


# --------------------------------------------------------------------------- real beats

SENT = re.compile(
    r"\[(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/\w+\] "
    r"Scheduler: Sending due task (?P<entry>[\w-]+) \((?P<task>[\w.]+)\)"
)


def _sends(log: Path) -> list[tuple[datetime, str]]:
    return [
        (datetime.strptime(m["at"], "%Y-%m-%d %H:%M:%S,%f"), m["entry"])
        for m in SENT.finditer(log.read_text())
    ]


def _start_beat(name: str, tmp_path: Path, env: dict) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{name}.log"
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.beat_schedule_app",
            "beat",
            "--loglevel",
            "info",
            "--schedule",
            str(tmp_path / f"{name}-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return beat, log


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    process.wait(timeout=30)


def _queued_tasks_redis(url: str) -> list[str]:
    import redis

    client = redis.Redis.from_url(url)
    return [
        json.loads(raw)["headers"]["task"]
        for queue in ("sweep", "notify")
        for raw in client.lrange(queue, 0, -1)
    ]


def _queued_tasks_files(folder: Path) -> list[str]:
    return [json.loads(path.read_text())["headers"]["task"] for path in folder.glob("*.msg")]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): the beats share the test database, as in CI",
)
@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_a_second_beat_sends_nothing_and_takes_over_when_the_first_dies(
    transactional_db, broker, tmp_path
):
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings.local",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "BEAT_LEASE_SECONDS": "2",
    }
    redis_server = None
    if broker == "redis":
        redis_server = RedisServer()
        redis_server.start()
        env["REDIS_URL"] = redis_server.url
    else:
        # The embedded default: no Redis, kombu's filesystem transport in a folder of its own.
        env["REDIS_URL"] = ""
        env["CELERY_QUEUE_DIR"] = str(tmp_path / "celery")
        for sub in ("queue", "control"):
            (tmp_path / "celery" / sub).mkdir(parents=True)
    first, first_log = _start_beat("first", tmp_path, env)
    second = None
    try:
        wait_for(
            lambda: BeatLease.objects.filter(holder__contains=f":{first.pid}:").exists(),
            timeout=30,
            what="the first beat to take the lease",
        )
        second, second_log = _start_beat("second", tmp_path, env)
        wait_for(lambda: "beat: Starting" in second_log.read_text(), timeout=30, what="beat 2")
        started = len(_sends(first_log))
        wait_for(
            lambda: len(_sends(first_log)) >= started + 6,
            timeout=30,
            what="six sends by the first beat while the second runs",
        )
        _stop(first, signal.SIGKILL)  # its host dies: no clean release, the lease expires
        killed_at = datetime.now()
        wait_for(
            lambda: sum(e == "sweep" for _t, e in _sends(second_log)) >= 3,
            timeout=30,
            what="the second beat to take over",
        )
    finally:
        _stop(first, signal.SIGKILL)
        if second is not None:
            _stop(second)
    first_sends, second_sends = _sends(first_log), _sends(second_log)
    if redis_server is not None:
        queued = _queued_tasks_redis(redis_server.url)
        redis_server.stop()
    else:
        queued = _queued_tasks_files(tmp_path / "celery" / "queue")
    # While the first lived, the second sent nothing; after, only the second sent.
    assert all(at <= killed_at for at, _entry in first_sends)
    assert second_sends and all(at > killed_at for at, _entry in second_sends)
    # It took over within the lease (2 s) and a tick or two.
    assert (second_sends[0][0] - killed_at).total_seconds() < 6
    # Nothing twice: every send is a message on the broker, and no entry was sent again
    # sooner than its interval allows (1 s for the sweep, 2 s for the digest), across the
    # hand-over too.
    sends = sorted(first_sends + second_sends)
    assert sorted(queued) == sorted(
        "tasks.timers.sweep" if e == "sweep" else "tasks.notifications.daily_digest"
        for _t, e in sends
    )
    for entry, interval in (("sweep", 1.0), ("daily-digest", 2.0)):
        times = [at for at, e in sends if e == entry]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert len(times) >= 3 and min(gaps) > interval * 0.5, (entry, gaps)
