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

from workflows.demo.scale_history import history_counts  # noqa: E402
from workflows.models import Case, WorkItem  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", "8765"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
DURATION = os.environ.get("BENCH_DURATION", "15s")
WARMUP = os.environ.get("BENCH_WARMUP", "3s")
# wrk's per-request timeout: a slower answer counts as an error (the ledger's figure shows it).
TIMEOUT = os.environ.get("BENCH_TIMEOUT", "30s")
# Seconds for all the pages under load; pages past it are listed as not measured.
BUDGET = float(os.environ.get("BENCH_BUDGET", "3600"))
# BENCH_ONLY=pages: the pages only (not the sweep, digest and PDF benchmarks);
# BENCH_ONLY=writes: cascades and audit appends only.
ONLY = os.environ.get("BENCH_ONLY", "")
# BENCH_MATCH=REGEX: only the pages whose label (route and query) matches, e.g. 'search|cases/';
# BENCH_MATCH=targets: the pages with a target, and viewflow's stock inbox for the ratio.
MATCH = os.environ.get("BENCH_MATCH", "")
# A page whose single request takes longer than this (or that times out under wrk) leaves
# gunicorn's sync workers busy after wrk stops; gunicorn is restarted before the next page.
SLOW_ALONE = 2.0
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
            *[[what, n] for what, n in history_counts().items()],
        ],
    )


def bench_pages():
    """Every page of the boundary matrix with real ids (bench/pages.py), who it is measured as,
    and the pages not measured with why."""
    from pages import Page, _a_people, objects, pages  # bench/pages.py, beside this script

    province, item, people = _a_people()
    values, missing = objects(item, people)
    measured, skipped = pages(province, values, missing)
    # The case page target is for a national case with 100 children; the matrix's
    # case (A's) is a provincial one, so the national case is measured too.
    national = (
        Case.objects.filter(parent_case=None, organisation__parent=None)
        .annotate(children=Count("child_cases"))
        .order_by("-children", "pk")
        .first()
    )
    if national is not None:
        measured.append(
            Page(
                f"workflows/cases/<int:case_id>/ (national case, {national.children} children)",
                "national coordinator",
                f"/workflows/cases/{national.pk}/",
                ("p95", 150),
            )
        )
    if MATCH == "targets":  # the pages issue 20 sets a target for, and the stock inbox
        measured = [p for p in measured if p.target or p.label == "engine/measure/inbox/"]
    elif MATCH:
        measured = [page for page in measured if re.search(MATCH, page.label)]
    print(
        f"\nA (the matrix's province): {province.code}; case {values['case_id']}; "
        + "; ".join(f"{who}: {user.username}" for who, user in people.items())
    )
    return people, measured, skipped


# A streamed answer (the audit CSV of the whole trail) is read up to this many bytes.
READ_CAP = 20 * 1024 * 1024


class _TooSlow(Exception):
    pass


def _alarm(_signum, _frame):
    raise _TooSlow


def query_counts(people, measured) -> dict:
    """One request per page in this process: status, queries, size, seconds. Each is bounded
    by BENCH_TIMEOUT (SIGALRM; the page is then listed as not measured)."""
    results = {}
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for page in measured:
            client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
            client.force_login(people[page.who])
            started = time.perf_counter()
            signal.alarm(int(_seconds(TIMEOUT)))
            try:
                with CaptureQueriesContext(connection) as ctx:
                    response = client.get(page.path)
                    size = _size(response)
                results[(page.path, page.who)] = (
                    response.status_code,
                    len(ctx),
                    size,
                    time.perf_counter() - started,
                )
            except _TooSlow:
                connection.close()  # interrupted mid-query: start afresh
                results[(page.path, page.who)] = (f"over {TIMEOUT} alone", 0, 0, 0.0)
            finally:
                signal.alarm(0)
            status, queries, size, seconds = results[(page.path, page.who)]
            print(
                f"  {page.label} as {page.who}: {status}, {queries} queries, {seconds:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        signal.signal(signal.SIGALRM, previous)
    return results


def _size(response) -> int:
    if not getattr(response, "streaming", False):
        return len(response.content)
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        if size > READ_CAP:
            break
    return size


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


def warm_workers(cookie: str) -> None:
    """Every gunicorn worker's first requests load the URL map, templates and connections (a
    second or more each); a page measured first after a start would count that, once per
    worker lifetime, as its own cost. So a fresh server answers a few pages untimed first."""
    for path in ("/workflows/", "/workflows/dashboard/", "/api/v1/measures/", "/api/v1/tasks/"):
        subprocess.run(
            ["wrk", "-t2", f"-c{CONNECTIONS}", "-d2s", f"--timeout={TIMEOUT}"]
            + ["-H", f"Cookie: sessionid={cookie}", f"http://127.0.0.1:{PORT}{path}"],
            capture_output=True,
            check=True,
            timeout=60,
        )


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def wrk(path: str, cookie: str) -> dict:
    url = f"http://127.0.0.1:{PORT}{path}"
    cookie_header = f"Cookie: sessionid={cookie}"
    # wrk's duration bounds each loop in time (and so in count); --timeout bounds one request,
    # and the subprocess timeout the whole run should wrk hang.
    bound = _seconds(DURATION) + _seconds(WARMUP) + 60
    limit = dict(capture_output=True, check=True, timeout=bound)
    # Warm up each worker's caches and connections before measuring.
    subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{WARMUP}",
            f"--timeout={TIMEOUT}",
            "-H",
            cookie_header,
            url,
        ],
        **limit,
    )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{DURATION}",
            f"--timeout={TIMEOUT}",
            "-H",
            cookie_header,
            "-s",
            str(ROOT / "bench" / "wrk_report.lua"),
            url,
        ],
        text=True,
        **limit,
    ).stdout
    match = re.search(r"RESULT (.*)", out)
    return dict(item.split("=") for item in match.group(1).split())


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]] if duration[-1] in units else float(duration)


def _met(target, figures) -> str:
    if int(figures["requests"]) == 0:
        return f"✗ no answer in {DURATION}" if target else "no answer"
    if target is None:
        return "—"
    which, limit = target
    return ("✓" if float(figures[which]) <= limit else "✗") + f" {which} ≤ {limit} ms"


def load(people, measured, counts) -> list:
    """Each page under load, in turn, within BENCH_BUDGET seconds; returns the pages the
    budget left out."""
    heading(
        f"Every page under load: gunicorn {WORKERS} sync workers, wrk {CONNECTIONS} "
        f"connections, {WARMUP} warm-up + {DURATION} each, budget {BUDGET} s"
    )
    cookies = {who: session_cookie(user) for who, user in people.items()}
    server = start_gunicorn()
    warm_workers(cookies["national coordinator"])
    rows, p95, p50, left_out = [], {}, {}, []
    began = time.monotonic()
    try:
        for page in measured:
            status, queries, size, alone = counts[(page.path, page.who)]
            if status != 200:
                left_out.append((page.label, f"as {page.who}: answers {status}"))
                continue
            if time.monotonic() - began > BUDGET:
                left_out.append((page.label, f"as {page.who}: past the time budget"))
                continue
            loadavg = os.getloadavg()[0]
            try:
                figures = wrk(page.path, cookies[page.who])
            except (subprocess.SubprocessError, AttributeError) as error:
                left_out.append((page.label, f"as {page.who}: wrk failed ({error})"[:200]))
                continue
            rows.append(
                [
                    page.label,
                    page.who,
                    queries,
                    f"{size / 1024:.1f} KiB" + ("+ (cut)" if size > READ_CAP else ""),
                    f"{alone * 1000:.0f}",
                    figures["p50"],
                    figures["p95"],
                    figures["rps"],
                    figures["errors"],
                    f"{loadavg:.2f}",
                    _met(page.target, figures),
                ]
            )
            p95[(page.label, page.who)] = float(figures["p95"])
            p50[(page.label, page.who)] = float(figures["p50"])
            if alone > SLOW_ALONE or int(figures["errors"]) or not int(figures["requests"]):
                # Requests wrk gave up on still hold workers: start afresh for the next page.
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
                server = start_gunicorn()
                warm_workers(cookies["national coordinator"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    table(
        [
            "page",
            "as",
            "queries",
            "size",
            "1 req ms",
            "p50 ms",
            "p95 ms",
            "req/s",
            "errors",
            "load",
            "target met",
        ],
        rows,
    )
    who = "national coordinator"
    for ours, stock in (
        ("workflows/inbox/", "engine/measure/inbox/"),
        ("workflows/queue/", "engine/measure/queue/"),
    ):
        if p95.get((stock, who)) == 0.0:
            print(f"\nviewflow's stock {stock} answered no request within {DURATION}: no ratio")
        elif p95.get((ours, who)) and (stock, who) in p95:
            print(
                f"\nSame user ({who}), same run: viewflow's stock {stock} / ours ({ours}): "
                f"p95 {p95[(stock, who)] / p95[(ours, who)]:.1f}x, "
                f"p50 {p50[(stock, who)] / p50[(ours, who)]:.1f}x (target ≥ 10x for the inbox)"
            )
    print(f"\nPages measured in {time.monotonic() - began:.0f} s")
    return left_out


def run_script(name: str, *args) -> None:
    subprocess.run([PY, str(ROOT / "bench" / name), *args], check=True, cwd=ROOT)


def writes() -> None:
    """Cascades (cases per second, one and two at once) on this data set, and audit appends
    (decisions per second with 1, 4 and 8 clients) on a scratch database of their own, made
    and dropped here: bench/audit_bench.py adds cases and events it does not roll back."""
    heading("Launching and cascading: cases per second, one cascade and two at once")
    run_script("cascade_bench.py")
    heading("Audit appends: decisions per second on different cases, 1, 4 and 8 clients")
    scratch = f"{connection.settings_dict['NAME']}_audit"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        cursor.execute(f'CREATE DATABASE "{scratch}"')
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{scratch}",
        # The sealer chains each commit's events inline, as after every commit in production.
        "DJANGO_SETTINGS_MODULE": "project.settings.test",
    }
    try:
        for command in (["migrate", "-v0"], ["load_catalogue"], ["seed_demo"]):
            subprocess.run(
                [PY, "manage.py", *command], check=True, cwd=ROOT, env=env, capture_output=True
            )
        subprocess.run([PY, str(ROOT / "bench" / "audit_bench.py")], check=True, cwd=ROOT, env=env)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}"')


def main() -> None:
    print("# Reformflow benchmark")
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%H %cI %s"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(f"\ncommit: {commit}")
    print(f"machine: {os.cpu_count()} CPUs; {Path('/proc/meminfo').read_text().splitlines()[0]}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if os.environ.get("BENCH_NOTE"):
        print(f"note: {os.environ['BENCH_NOTE']}")
    data_size()
    if ONLY != "writes":
        people, measured, skipped = bench_pages()
        counts = query_counts(people, measured)
        left_out = load(people, measured, counts)
        heading("Pages of the boundary matrix not measured")
        table(["route", "why"], [[route, why] for route, why in skipped + left_out])
    if ONLY == "pages":
        return
    writes()
    if ONLY == "writes":
        return
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
