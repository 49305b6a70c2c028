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


def test_the_appraisal_scores_the_month_just_ended_on_the_first_at_0600(monkeypatch):
    import datetime as dt

    import time_machine

    from workflows.appraisal import scoring as appraisal

    entry = app.conf.beat_schedule["appraisal-monthly"]["schedule"]
    assert (entry.day_of_month, entry.hour, entry.minute) == ({1}, {6}, {0})
    periods = []
    monkeypatch.setattr(
        appraisal,
        "appraisal_compute",
        lambda *, period, now: periods.append(period) or ["entry", "entry"],
    )
    # Beat fires at 06:00 on 1 April, Beijing time (22:00 UTC on 31 March).
    with time_machine.travel(dt.datetime(2027, 3, 31, 22, 0, tzinfo=dt.UTC), tick=False):
        period, entries = appraisal.appraisal_month_ended()
    assert periods == [dt.date(2027, 3, 1)] and period == dt.date(2027, 3, 1)
    assert len(entries) == 2
