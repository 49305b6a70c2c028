"""The Celery app: configuration from Django settings, tasks registered explicitly."""

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

app = Celery("reformflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Explicit list rather than autodiscovery: tests/test_celery_registry.py checks it.
app.conf.include = [
    "tasks.timers",
    "tasks.notifications",
    "tasks.reports",
    "tasks.schedules",
    "tasks.cascades",
]

# One queue per kind of work, so a burst of one kind never waits in line before another: a
# hundred report renders do not hold back the next minute's mail, and a slow sweep does not
# hold back renders. A worker started without -Q consumes every queue listed here (the
# embedded demo, `make worker`); in production run a worker per queue (`make worker
# WORKER_QUEUES=reports`, see docs/operations.md). Anything unrouted goes to "celery".
QUEUES = ("celery", "sweep", "notify", "reports")
app.conf.task_queues = [Queue(name, routing_key=name) for name in QUEUES]
app.conf.task_default_queue = "celery"
app.conf.task_routes = {
    "tasks.timers.sweep": {"queue": "sweep"},
    # Mail and the other channels (WeCom, DingTalk) deliver from the notification log.
    "tasks.notifications.*": {"queue": "notify"},
    "tasks.channels.*": {"queue": "notify"},
    # CPU-heavy and minutes long at worst: renders, and the monthly appraisal with its PDF.
    "tasks.reports.*": {"queue": "reports"},
    "tasks.timers.appraisal_monthly": {"queue": "reports"},
}

# Times are Asia/Shanghai (CELERY_TIMEZONE). The sweep is cheap when nothing is due; its
# interval can be shortened (tests, drills) with SWEEP_INTERVAL_SECONDS.
app.conf.beat_schedule = {
    "sweep": {
        "task": "tasks.timers.sweep",
        "schedule": float(os.environ.get("SWEEP_INTERVAL_SECONDS", "60")),
    },
    "daily-digest-0830": {
        "task": "tasks.notifications.daily_digest",
        "schedule": crontab(hour=8, minute=30),
    },
    # The month's appraisal (督查督办 scores and bulletin) once it has ended, before work starts.
    # Scheduled reports (workflows.reports.schedules): each due run once per period, caught up
    # by the first pass after an outage; a later pass tells the recipients once it is ready.
    "report-schedules": {
        "task": "tasks.reports.run_schedules",
        "schedule": crontab(minute="*/10"),
    },
    "appraisal-monthly": {
        "task": "tasks.timers.appraisal_monthly",
        "schedule": crontab(day_of_month=1, hour=6, minute=0),
    },
}
