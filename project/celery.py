"""The Celery app: configuration from Django settings, tasks registered explicitly."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

app = Celery("reformflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Explicit list rather than autodiscovery: tests/test_celery_registry.py checks it.
app.conf.include = ["tasks.timers", "tasks.notifications", "tasks.reports"]
app.conf.beat_schedule = {}
