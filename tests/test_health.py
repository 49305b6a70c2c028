"""/healthz: public JSON on the database, the broker, the worker heartbeat and the last sweep."""

import os
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import OperationalError, connections
from django.test import override_settings
from django.utils import timezone

from workflows.common.health import EMBEDDED_BROKER, heartbeat_record, sweep_record

URL = "/healthz"


def test_anonymous_get_healthy_report_without_a_login(client, db, settings):
    from django.core.cache import cache

    settings.REDIS_URL = ""
    cache.clear()  # earlier tests ran sweeps, which record themselves here

    response = client.get(URL)

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    report = response.json()
    assert report["status"] == "ok"
    assert report["database"] == {"ok": True}
    assert report["broker"] == {"kind": EMBEDDED_BROKER, "ok": True}
    assert report["worker_heartbeat"] == {"at": None, "age_seconds": None, "readable": True}
    assert report["last_sweep"]["at"] is None


def test_heartbeat_and_sweep_recorded_by_other_processes_are_reported_with_their_age(client, db):
    now = timezone.now()
    with time_machine.travel(now, tick=False) as clock:
        heartbeat_record()
        sweep_record(now - timedelta(minutes=5))
        clock.shift(timedelta(seconds=30))
        report = client.get(URL).json()

    assert report["worker_heartbeat"] == {
        "at": now.isoformat(),
        "age_seconds": 30,
        "readable": True,
    }
    assert report["last_sweep"]["at"] == (now - timedelta(minutes=5)).isoformat()
    assert report["last_sweep"]["age_seconds"] == 330


def test_a_database_that_does_not_answer_gives_503_without_its_error_text(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to "db.internal" failed: password for user "rf"')

    with monkeypatch.context() as patch:
        patch.setattr(connections["default"], "cursor", refuse)
        response = client.get(URL)

    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "down" and report["database"] == {"ok": False}
    assert "db.internal" not in response.content.decode()


def test_an_unreachable_redis_is_reported_without_its_url(client, db, settings):
    settings.REDIS_URL = "redis://:hunter2@127.0.0.1:1/0"

    response = client.get(URL)

    assert response.status_code == 200  # the database answers; the broker is information
    report = response.json()
    assert report["status"] == "degraded"
    assert report["broker"] == {"kind": "redis", "ok": False}
    assert "hunter2" not in response.content.decode() and "127.0.0.1" not in str(report)


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_a_reachable_redis_answers_the_ping(client, db, settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]

    assert client.get(URL).json()["broker"] == {"kind": "redis", "ok": True}


def test_the_database_cache_shares_the_heartbeat_between_processes(client, db):
    """Without Redis, web and worker share a database table; this is that configuration."""
    database_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "reformflow_cache",
        }
    }
    with override_settings(CACHES=database_cache):
        call_command("createcachetable", verbosity=0)
        heartbeat_record()
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM reformflow_cache")
            assert cursor.fetchone() == (1,)
        assert client.get(URL).json()["worker_heartbeat"]["age_seconds"] is not None
