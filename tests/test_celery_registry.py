"""The Celery app registers every task module explicitly, and beat names only real tasks."""

from celery.schedules import crontab

from project.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, name


def test_the_sweep_runs_every_minute_and_the_digest_at_0830_beijing_time():
    schedule = app.conf.beat_schedule
    assert schedule["sweep"]["schedule"] == 60.0
    digest = schedule["daily-digest-0830"]["schedule"]
    assert isinstance(digest, crontab)
    assert (digest.hour, digest.minute) == ({8}, {30})
    assert app.conf.timezone == "Asia/Shanghai"
