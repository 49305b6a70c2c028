"""The Celery app: configuration from Django settings, tasks registered explicitly."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

app = Celery("reformflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Explicit list rather than autodiscovery: tests/test_celery_registry.py checks it.
app.conf.include = ["tasks.timers", "tasks.notifications", "tasks.reports"]
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
    "appraisal-monthly": {
        "task": "tasks.timers.appraisal_monthly",
        "schedule": crontab(day_of_month=1, hour=6, minute=0),
    },
}
