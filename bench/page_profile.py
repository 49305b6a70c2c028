"""One page, in process, through Django's test client: the median time of a warm request, the
SQL time the client sees (every statement timed around its execution) and the query count,
then optionally the cProfile of the same requests by cumulative time.

    DATABASE_URL=... REDIS_URL=... DJANGO_SETTINGS_MODULE=project.settings.local DEBUG=false \\
        .venv/bin/python bench/page_profile.py coordinator.office /workflows/dashboard/ [--profile]
        [--sort tottime]

A warm request is one after the first (connections open, templates and caches loaded).
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")


class SqlTimer:
    """connection.execute_wrapper: the time and number of statements of the request."""

    def __init__(self):
        self.seconds, self.count = 0.0, 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("username")
    parser.add_argument("path")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username=args.username))
    first = client.get(args.path)
    assert first.status_code == 200, first.status_code
    totals, sqls, counts = [], [], []
    for _ in range(args.runs):
        timer = SqlTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            response = client.get(args.path)
            totals.append(time.perf_counter() - started)
        assert response.status_code == 200
        sqls.append(timer.seconds)
        counts.append(timer.count)
    total, sql = statistics.median(totals), statistics.median(sqls)
    print(
        f"{args.path} as {args.username}: {1000 * total:.1f} ms per warm request, "
        f"SQL {1000 * sql:.1f} ms ({max(counts)} queries), Python {1000 * (total - sql):.1f} ms, "
        f"{len(response.content) / 1024:.1f} KiB, ratio {total / sql if sql else float('inf'):.1f}"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.runs):
            client.get(args.path)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
