"""Single-request figures for the lists and exports of issue 20: the ledger (XLSX, DOCX), the
programme exports, /api/v1/cases/ for the national coordinator and a national department head,
the appraisal page and a department's entries; best of N requests through the Django test
client, with the SQL time, the query count and the size. Then EXPLAIN ANALYZE of the case
list's queries, and the time to score a month.

    DATABASE_URL=postgres://.../db DJANGO_SETTINGS_MODULE=project.settings.local DEBUG=false \
        .venv/bin/python bench/lists_bench.py      # on a generate_scale data set, collectstatic run

BENCH_LISTS_N (default 5) is the number of timed requests per page; BENCH_LISTS_PERIOD
(default 2026-11) the month scored and shown. Scoring rewrites that month's score entries.
"""

import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from workflows.appraisal import scoring  # noqa: E402
from workflows.models import Department  # noqa: E402

N = int(os.environ.get("BENCH_LISTS_N", "5"))
PERIOD = os.environ.get("BENCH_LISTS_PERIOD", "2026-11")


def timed(client, url) -> dict:
    client.get(url)
    times, sql = [], []
    for _ in range(N):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    return {
        "best_ms": round(min(times)),
        "median_ms": round(statistics.median(times)),
        "sql_ms": round(min(sql)),
        "queries": len(queries.captured_queries),
        "kb": round(len(response.content) / 1024, 1),
    }


def explain(sql: str) -> tuple[float, int]:
    with connection.cursor() as cursor:
        best, blocks = None, 0
        for _ in range(3):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]
            best = plan["Execution Time"] if best is None else min(best, plan["Execution Time"])
            blocks = plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get(
                "Shared Read Blocks", 0
            )
    return round(best, 2), blocks


def main() -> None:
    users = get_user_model().objects
    national, head = (
        users.get(username="coordinator.office"),
        users.get(username="grassroots_work.head"),
    )
    department = Department.objects.get(organisation__parent__isnull=True, key="grassroots_work")
    print("load average", os.getloadavg()[0])
    year, month = (int(p) for p in PERIOD.split("-"))
    start = time.perf_counter()
    entries = scoring.appraisal_compute(period=dt.date(year, month, 1))
    print(f"scoring {PERIOD}: {len(entries)} entries in {time.perf_counter() - start:.2f} s")
    pages = [
        ("ledger.xlsx", national, "/workflows/ledger.xlsx"),
        ("ledger.docx", national, "/workflows/ledger.docx"),
        ("programme.csv", national, "/workflows/desk/programme.csv"),
        ("programme.xlsx", national, "/workflows/desk/programme.xlsx"),
        ("cases (national coordinator)", national, "/api/v1/cases/"),
        ("cases (national department head)", head, "/api/v1/cases/"),
        ("appraisal", national, f"/workflows/appraisal/?period={PERIOD}"),
        (
            "a department's entries",
            national,
            f"/workflows/appraisal/departments/{department.pk}/?period={PERIOD}",
        ),
    ]
    for name, user, url in pages:
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        print(name, json.dumps(timed(client, url)))
    for user in (head, national):
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        client.get("/api/v1/cases/")
        with CaptureQueriesContext(connection) as queries:
            client.get("/api/v1/cases/")
        for query in queries.captured_queries:
            if (
                '"workflows_case"' in query["sql"]
                and 'auth_user"."password' not in query["sql"][:200]
            ):
                print(
                    f"  EXPLAIN {user.username}: {explain(query['sql'])} (ms, blocks)",
                    query["sql"][:70],
                )


if __name__ == "__main__":
    main()
