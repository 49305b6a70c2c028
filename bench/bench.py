"""Reformflow at national scale: page latency under load, query counts, page sizes, the sweep,
the daily digest and PDF rendering, printed as a table. Run through `make bench` (bench/run.sh),
which builds the data set first; see bench/RESULTS.md for the last figures and the machine."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from viewflow.workflow.models import Task  # noqa: E402
from viewflow.workflow.status import STATUS  # noqa: E402

from workflows.models import Case, WorkItem  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", "8765"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
DURATION = os.environ.get("BENCH_DURATION", "15s")
PY = sys.executable
User = get_user_model()


def heading(text: str) -> None:
    print(f"\n## {text}\n", flush=True)


def table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    sys.stdout.flush()


def data_size() -> None:
    heading("Data")
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        version = cursor.fetchone()[0].split(",")[0]
    table(
        ["what", "rows"],
        [
            ["PostgreSQL", version],
            ["cases", Case.objects.count()],
            ["tasks (work items)", WorkItem.objects.count()],
            ["open tasks", WorkItem.objects.filter(status="open").count()],
            ["viewflow task rows", Task.objects.count()],
            ["users", User.objects.count()],
        ],
    )


def bench_users() -> dict[str, User]:
    """The people whose pages are measured; the coordinator gets 20 open tasks of their own so
    that viewflow's stock inbox and ours list the same rows."""
    coordinator = User.objects.get(username="coordinator.office")
    if not WorkItem.objects.filter(assignee=coordinator, status="open").exists():
        ids = list(
            WorkItem.objects.filter(status="open", kind="approve")
            .order_by("pk")
            .values_list("pk", flat=True)[:20]
        )
        WorkItem.objects.filter(pk__in=ids).update(assignee=coordinator)
        Task.objects.filter(pk__in=ids).update(owner=coordinator, status=STATUS.ASSIGNED)
    # The federation department head with the most open tasks assigned (their inbox).
    busiest_head = (
        WorkItem.objects.filter(
            status="open", assignee__isnull=False, assignee__username__startswith="scale-"
        )
        .values("assignee")
        .annotate(n=Count("pk"))
        .order_by("-n", "assignee")
        .values_list("assignee", flat=True)
        .first()
    )
    return {
        "coordinator": coordinator,
        "national head": User.objects.get(username="network_work.head"),
        "federation head": User.objects.get(pk=busiest_head),
        "federation staff": User.objects.filter(
            username__startswith="scale-", username__endswith=".staff"
        )
        .order_by("pk")
        .first(),
    }


def pages(users) -> list[tuple[str, str, str]]:
    """(label, user label, path) of every measured page."""
    # A national case (most children to roll up) when launched, else the first open case.
    case = Case.objects.filter(is_open=True).order_by("organisation__path", "pk").first()
    return [
        ("inbox (ours)", "coordinator", "/workflows/inbox/"),
        ("queue (ours)", "coordinator", "/workflows/queue/"),
        ("inbox", "federation head", "/workflows/inbox/"),
        ("queue", "federation staff", "/workflows/queue/"),
        ("queue", "national head", "/workflows/queue/"),
        ("dashboard (programme roll-up)", "coordinator", "/workflows/dashboard/"),
        ("case page", "coordinator", f"/workflows/cases/{case.pk}/"),
        ("/api/v1/tasks/", "federation head", "/api/v1/tasks/"),
        ("/api/v1/measures/", "coordinator", "/api/v1/measures/"),
        # viewflow's stock pages last: its queue answers 23 MB pages that hold every worker
        # busy past the measuring window and would spoil the rows after it.
        ("inbox (viewflow stock)", "coordinator", "/engine/measure/inbox/"),
        ("queue (viewflow stock)", "coordinator", "/engine/measure/queue/"),
    ]


def query_counts(users, page_list) -> dict:
    results = {}
    for label, who, path in page_list:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(users[who])
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        results[(label, who)] = (response.status_code, len(ctx), len(response.content))
    return results


def start_gunicorn() -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "false"}
    process = subprocess.Popen(
        [
            PY,
            "-m",
            "gunicorn",
            "project.wsgi",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def wrk(path: str, cookie: str) -> dict:
    url = f"http://127.0.0.1:{PORT}{path}"
    # Warm up each worker's caches and connections before measuring.
    subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", "-d3s", "-H", f"Cookie: sessionid={cookie}", url],
        capture_output=True,
        check=True,
    )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{DURATION}",
            "-H",
            f"Cookie: sessionid={cookie}",
            "-s",
            str(ROOT / "bench" / "wrk_report.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (.*)", out)
    return dict(item.split("=") for item in match.group(1).split())


def load(users, page_list, counts) -> None:
    heading(
        f"Pages under load: gunicorn {WORKERS} sync workers, "
        f"wrk {CONNECTIONS} connections, {DURATION}"
    )
    server = start_gunicorn()
    rows, ratio = [], {}
    try:
        cookies = {who: session_cookie(user) for who, user in users.items()}
        for label, who, path in page_list:
            figures = wrk(path, cookies[who])
            status, queries, size = counts[(label, who)]
            rows.append(
                [
                    label,
                    who,
                    status,
                    queries,
                    f"{size / 1024:.1f} KiB",
                    figures["p50"],
                    figures["p95"],
                    figures["rps"],
                    figures["errors"],
                ]
            )
            ratio[label] = float(figures["p95"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    table(["page", "as", "status", "queries", "size", "p50 ms", "p95 ms", "req/s", "errors"], rows)
    if "inbox (ours)" in ratio and ratio["inbox (ours)"]:
        print(
            f"\nSide by side, same user, same run: viewflow's stock inbox p95 / ours = "
            f"{ratio['inbox (viewflow stock)'] / ratio['inbox (ours)']:.1f}x"
        )


def run_script(name: str, *args) -> None:
    subprocess.run([PY, str(ROOT / "bench" / name), *args], check=True, cwd=ROOT)


def main() -> None:
    print("# Reformflow benchmark")
    print(f"\nmachine: {os.cpu_count()} CPUs; {Path('/proc/meminfo').read_text().splitlines()[0]}")
    data_size()
    users = bench_users()
    page_list = pages(users)
    counts = query_counts(users, page_list)
    load(users, page_list, counts)
    heading("The sweep")
    run_script("sweep_bench.py")
    heading("The daily digest")
    run_script("digest_bench.py")
    heading("PDF rendering on the national data set")
    run_script("pdf_bench.py")
    heading("PDF rendering with full histories (ten measures walked to the end in a test db)")
    subprocess.run(
        [PY, "-m", "pytest", "-p", "tests.conftest", "bench/reports_bench.py", "-s", "-q"],
        check=True,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "project.settings.test",
        },
    )


if __name__ == "__main__":
    main()
