"""Liveness facts shared between processes, and the report /healthz serves.

The worker records a heartbeat and the escalation sweep records when it last ran and which of
its parts failed, in Django's cache (Redis, or a database table without Redis), so any web
process can read them.

/healthz answers 200 while the database answers and mail can go out: `status` is "degraded"
(with the reason) when Redis does not answer or the last sweep skipped a failing part. It
answers 503 when the database does not answer, or when mail stops: the last sweep's delivery
failed, or no sweep finished for SWEEP_STALE_SECONDS. `?scope=web` asks about the web process
alone (the database), for a liveness probe that must not restart web processes over a sweep.
"""

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

HEARTBEAT_KEY = "reformflow:worker_heartbeat"
SWEEP_KEY = "reformflow:last_sweep_at"
SWEEP_FAILED_KEY = "reformflow:last_sweep_failed_parts"
# Set when the notify queue's last delivery failed as a whole, cleared by the next that ran.
DELIVERY_FAILED_KEY = "reformflow:last_delivery_failed"
# A failure here means mail is not going out.
MAIL_PARTS = ("delivery",)
EMBEDDED_BROKER = "embedded filesystem broker"


def heartbeat_record(at: datetime | None = None) -> None:
    """Note that a worker is alive now (or at `at`); kept until overwritten."""
    cache.set(HEARTBEAT_KEY, (at or timezone.now()).isoformat(), timeout=None)


def sweep_record(at: datetime, *, failed_parts=()) -> None:
    """Note when the deadline/escalation sweep last finished, and the parts that failed in it."""
    cache.set_many({SWEEP_KEY: at.isoformat(), SWEEP_FAILED_KEY: list(failed_parts)}, timeout=None)


def delivery_record(*, failed: bool) -> None:
    """Note whether the last delivery run (on the notify queue) failed as a whole."""
    cache.set(DELIVERY_FAILED_KEY, failed, timeout=None)


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


def _sweep(now: datetime, moment: dict) -> dict:
    """The last sweep's failing parts, and whether mail is going out."""
    try:
        failed = list(cache.get(SWEEP_FAILED_KEY) or [])
        if cache.get(DELIVERY_FAILED_KEY) and "delivery" not in failed:
            failed.append("delivery")
    except Exception:  # noqa: BLE001 - as in _moment
        failed = []
    stale = moment["age_seconds"] is not None and moment["age_seconds"] > (
        settings.SWEEP_STALE_SECONDS
    )
    return {
        "ok": not failed and not stale,
        "failed_parts": failed,
        "stale": stale,
        "mail_stopped": stale or any(part in MAIL_PARTS for part in failed),
    }


def health_report(*, scope: str = "") -> tuple[dict, bool]:
    """(report, healthy): healthy means the database answers and, unless `scope` is "web",
    mail is going out (the last sweep delivered, and is recent); the rest is information."""
    now = timezone.now()
    database = _database()
    broker = _broker()
    last_sweep = _moment(SWEEP_KEY, now)
    sweep = _sweep(now, last_sweep)
    report = {
        "status": "ok" if database["ok"] and broker["ok"] and sweep["ok"] else "degraded",
        "time": now.isoformat(),
        "database": database,
        "broker": broker,
        "worker_heartbeat": _moment(HEARTBEAT_KEY, now),
        "last_sweep": last_sweep,
        "sweep": sweep,
    }
    if not database["ok"]:
        report["status"] = "down"
    return report, database["ok"] and (scope == "web" or not sweep["mail_stopped"])
