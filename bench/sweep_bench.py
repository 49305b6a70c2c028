"""The sweep at scale: 500,000 open tasks, 5 % of them due soon or overdue. Runs inside a
transaction that is rolled back, so the data set is unchanged afterwards."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
import django  # noqa: E402

django.setup()
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from measure import peak_mib, peak_reset  # noqa: E402 - bench/measure.py, beside this script

from workflows.deadlines.policy import alert_floor_delta, longest_reminder_notice  # noqa: E402
from workflows.sweep import sweep_run  # noqa: E402

OPEN_TASKS = int(os.environ.get("BENCH_SWEEP_TASKS", "500000"))


class Rollback(Exception):
    pass


def main() -> None:
    now = timezone.now()
    # The same floor the system sets when a due date is set or moved (escalation.alert_floor).
    floor = alert_floor_delta(longest_reminder_notice())
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # The first OPEN_TASKS tasks become open; every 20th is overdue by 0-6 days or
                # due within 3 days, the rest fall due in two months.
                cursor.execute(
                    """
                    WITH chosen AS (
                        SELECT task_id FROM workflows_workitem ORDER BY task_id LIMIT %s
                    )
                    UPDATE workflows_workitem w SET status = 'open', paused_at = NULL,
                        due_at = CASE WHEN w.task_id %% 20 = 0
                                      THEN %s + (w.task_id %% 10 - 6) * interval '1 day'
                                      ELSE %s + interval '60 days' END
                    FROM chosen WHERE w.task_id = chosen.task_id
                    """,
                    [OPEN_TASKS, now, now],
                )
                # Every open task starts at its floor, as after migration 0008.
                cursor.execute(
                    "UPDATE workflows_workitem SET next_alert_at = due_at - %s "
                    "WHERE status = 'open'",
                    [floor],
                )
                cursor.execute("SELECT count(*) FROM workflows_workitem WHERE status = 'open'")
                open_count = cursor.fetchone()[0]
                cursor.execute("ANALYZE workflows_workitem")
            baseline = peak_reset()
            # The catch-up: every reminder and rung due at once. Each sweep stops after its
            # budget (settings.SWEEP_ALERT_BUDGET_SECONDS) and the next, a minute later, goes
            # on; measured until the backlog is gone.
            drain, drain_seconds, moment = [], [], now
            while True:
                started = time.perf_counter()
                drain.append(sweep_run(now=moment, deliver=False))
                drain_seconds.append(time.perf_counter() - started)
                if not drain[-1].backlog:
                    break
                moment += timezone.timedelta(minutes=1)
            first, first_seconds, first_rss = drain[0], drain_seconds[0], peak_mib()
            started = time.perf_counter()
            steady = sweep_run(now=moment + timezone.timedelta(minutes=1), deliver=False)
            steady_seconds = time.perf_counter() - started
            steady_rss = peak_mib()
            raise Rollback
    except Rollback:
        pass
    print(f"open tasks: {open_count}; due or overdue: about {open_count // 20}")
    print("| sweep | time | peak RSS (process) | recorded |")
    print("|---|---|---|---|")
    for label, run, seconds, rss in (
        ("first (the catch-up starts)", first, first_seconds, first_rss),
        ("steady state (after the catch-up)", steady, steady_seconds, steady_rss),
    ):
        print(
            f"| {label} | {seconds:.1f} s | {rss:.0f} MiB (baseline {baseline:.0f}) | "
            f"{run.tasks_evaluated} tasks evaluated, {run.reminders} reminders, "
            f"{run.escalations} escalations |"
        )
    print(
        f"\ncatch-up: {len(drain)} sweeps a minute apart drained it; the longest took "
        f"{max(drain_seconds):.1f} s, all together {sum(drain_seconds):.1f} s; "
        f"{sum(r.tasks_evaluated for r in drain)} tasks evaluated, "
        f"{sum(r.reminders for r in drain)} reminders and "
        f"{sum(r.escalations for r in drain)} escalations recorded; peak RSS {peak_mib():.0f} MiB"
    )
    print()
    print("| part of the sweep | first | steady state |")
    print("|---|---|---|")
    parts = [("alerts (reminders and rungs)", "alerts", False)] + [
        (f"supervision: {name}", name, True) for name in first.supervision.seconds
    ]
    for label, key, supervision in parts:
        cells = [
            (run.supervision.seconds if supervision else run.seconds).get(key, 0.0)
            for run in (first, steady)
        ]
        print(f"| {label} | {cells[0]:.2f} s | {cells[1]:.2f} s |")
    print(
        f"| supervision, total | {first.seconds['supervision']:.2f} s | "
        f"{steady.seconds['supervision']:.2f} s |"
    )
    print(f"\nsupervision first: {first.supervision}\nsupervision steady: {steady.supervision}")


if __name__ == "__main__":
    main()
