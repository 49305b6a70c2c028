"""The Celery app registers every task module explicitly, and beat names only real tasks."""

from celery.schedules import crontab

from project.celery import app


def test_every_beat_entry_names_a_registered_task():
    # In a fresh process, as a worker starts: only the app's explicit `include` list loads.
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from project.celery import app; "
            "app.loader.import_default_modules(); print(json.dumps(sorted(app.tasks)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    registered = set(json.loads(out.splitlines()[-1]))
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in registered, name
    assert "tasks.reports.render_report" in registered


def test_the_sweep_runs_every_minute_and_the_digest_at_0830_beijing_time():
    schedule = app.conf.beat_schedule
    assert schedule["sweep"]["schedule"] == 60.0
    digest = schedule["daily-digest-0830"]["schedule"]
    assert isinstance(digest, crontab)
    assert (digest.hour, digest.minute) == ({8}, {30})
    assert app.conf.timezone == "Asia/Shanghai"
