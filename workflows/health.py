"""Liveness facts shared between processes, and the report /healthz serves.

The worker records a heartbeat and the escalation sweep records when it last ran, in
Django's cache (Redis, or a database table without Redis), so any web process can read them.
"""

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

HEARTBEAT_KEY = "reformflow:worker_heartbeat"
SWEEP_KEY = "reformflow:last_sweep_at"
EMBEDDED_BROKER = "embedded filesystem broker"


def heartbeat_record(at: datetime | None = None) -> None:
    """Note that a worker is alive now (or at `at`); kept until overwritten."""
    cache.set(HEARTBEAT_KEY, (at or timezone.now()).isoformat(), timeout=None)


def sweep_record(at: datetime) -> None:
    """Note when the deadline/escalation sweep last finished."""
    cache.set(SWEEP_KEY, at.isoformat(), timeout=None)


def _database() -> dict:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        # The exception text can hold host names and users: report only that it failed.
        return {"ok": False}
    return {"ok": True}


def _broker() -> dict:
    if not settings.REDIS_URL:
        return {"kind": EMBEDDED_BROKER, "ok": True}
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        ok = bool(client.ping())
    except redis.RedisError:
        ok = False
    return {"kind": "redis", "ok": ok}


def _moment(key: str, now: datetime) -> dict:
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage must not turn the health page into a 500
        return {"at": None, "age_seconds": None, "readable": False}
    at = parse_datetime(value) if isinstance(value, str) else None
    age = round((now - at).total_seconds()) if at else None
    return {"at": at.isoformat() if at else None, "age_seconds": age, "readable": True}


def health_report() -> tuple[dict, bool]:
    """(report, healthy): healthy means the database answers; the rest is information."""
    now = timezone.now()
    database = _database()
    broker = _broker()
    report = {
        "status": "ok" if database["ok"] and broker["ok"] else "degraded",
        "time": now.isoformat(),
        "database": database,
        "broker": broker,
        "worker_heartbeat": _moment(HEARTBEAT_KEY, now),
        "last_sweep": _moment(SWEEP_KEY, now),
    }
    if not database["ok"]:
        report["status"] = "down"
    return report, database["ok"]
