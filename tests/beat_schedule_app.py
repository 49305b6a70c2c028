"""The project's Celery app with a fast schedule, for the two-beats test: a sweep every second
and a digest every two, so a few seconds show whether anything is sent twice."""

from project.celery import app

app.conf.beat_schedule = {
    "sweep": {"task": "tasks.timers.sweep", "schedule": 1.0},
    "daily-digest": {"task": "tasks.notifications.daily_digest", "schedule": 2.0},
}

__all__ = ["app"]
