"""The sweep at scale: 500,000 open tasks, 5 % of them due soon or overdue. Runs inside a
transaction that is rolled back, so the data set is unchanged afterwards."""

import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
import django  # noqa: E402

django.setup()
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from workflows.escalation import sweep_run  # noqa: E402

OPEN_TASKS = int(os.environ.get("BENCH_SWEEP_TASKS", "500000"))


class Rollback(Exception):
    pass


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    now = timezone.now()
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
                cursor.execute("SELECT count(*) FROM workflows_workitem WHERE status = 'open'")
                open_count = cursor.fetchone()[0]
                cursor.execute("ANALYZE workflows_workitem")
            baseline = rss_mib()
            started = time.perf_counter()
            first = sweep_run(now=now, deliver=False)
            first_seconds = time.perf_counter() - started
            first_rss = rss_mib()
            started = time.perf_counter()
            steady = sweep_run(now=now + timezone.timedelta(minutes=1), deliver=False)
            steady_seconds = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    print(f"open tasks: {open_count}; due or overdue: about {open_count // 20}")
    print("| sweep | time | peak RSS (process) | recorded |")
    print("|---|---|---|---|")
    print(
        f"| first (records every due reminder and rung) | {first_seconds:.1f} s | "
        f"{first_rss:.0f} MiB (baseline {baseline:.0f}) | {first.reminders} reminders, "
        f"{first.escalations} escalations |"
    )
    print(
        f"| steady state (one minute later) | {steady_seconds:.1f} s | {rss_mib():.0f} MiB | "
        f"{steady.reminders} reminders, {steady.escalations} escalations |",
        flush=True,
    )


if __name__ == "__main__":
    main()
