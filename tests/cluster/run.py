"""`make cluster-test`: Reformflow on nine test hosts, under load, while hosts die.

    db       PostgreSQL primary and Redis         replica  PostgreSQL streaming replica
    web1/2   gunicorn (production settings)        worker1/2  Celery: sweep+notify, reports
    beat     celery beat (a second beat runs on web2, "by mistake")
    smtp     an SMTP receiver logging every message

The driver (this process, on the bridge) sends a bounded, timed load to both web hosts
through the API while the test cuts web1's link mid-requests, kills every process of a worker
host in the middle of a sweep and of a render (then starts it again), restarts Redis, pauses
the replica's replay and cuts the replica host. Then it checks that every case is exactly as the
driver's answered (or reconciled) requests say, no report is lost or rendered twice, no mail
is lost or sent twice, the audit chain verifies and every stored file matches its SHA-256,
and prints the figures. Needs root and iproute2; skips (exit 0) without them.
"""

import fcntl
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

from tests.cluster import net
from tests.cluster.checks import check_cases, check_files, check_mail, check_reports
from tests.cluster.driver import Balancer, Driver, Ledger
from tests.cluster.services import ROOT, WEB_PORT, Cluster, wait_until

LOAD_SECONDS = float(os.environ.get("CLUSTER_LOAD_SECONDS", "70"))
HARD_LIMIT_SECONDS = int(os.environ.get("CLUSTER_TEST_LIMIT", "540"))
LOCK_FILE = Path(tempfile.gettempdir()) / "rf21-cluster.lock"
LOG_COPY = ROOT / "var" / "cluster-test"
DRIVEN = ["1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4"]
DRIVEN += ["4.1", "4.2", "5.1", "5.2"]
DRILL = ["7.1", "7.2", "7.3"]

TASK_LINE = re.compile(
    r"Task (tasks\.[\w.]+)\[([\w-]+)\] (received|succeeded|raised|failed)(?: in ([\d.]+)s)?"
)
ACCESS_STATUS = re.compile(r'" (\d{3}) ')


def say(message: str) -> None:
    print(f"cluster-test: {message}", flush=True)


# --------------------------------------------------------------------------- logs


def task_log(path: Path, seconds: dict | None = None) -> tuple[Counter, dict[str, str]]:
    """(finished tasks by name, tasks received and not finished: id -> name); `seconds`
    collects each successful task's run time by name."""
    done, running = Counter(), {}
    if not path.exists():
        return done, running
    for name, task_id, event, took in TASK_LINE.findall(path.read_text(errors="replace")):
        if event == "received":
            running[task_id] = name
        else:
            running.pop(task_id, None)
            done[name] += 1
            if took and seconds is not None:
                seconds.setdefault(name, []).append(float(took))
    return done, running


def access_counts(path: Path) -> Counter:
    counts = Counter()
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            match = ACCESS_STATUS.search(line)
            if match:
                counts[match.group(1)[0] + "xx"] += 1
    return counts


# --------------------------------------------------------------------------- the scenario


class Scenario:
    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.faults: list[str] = []
        self.replica: dict[str, str] = {}
        self.killed: dict[str, object] = {}
        self.cpu: dict[str, float] = {}

    # ------------------------------------------------------------------ setup

    def build(self) -> None:
        c = self.cluster
        started = time.monotonic()
        c.network()
        c.start_primary()
        c.start_redis()
        c.start_smtp()
        c.manage("migrate", "--noinput")
        c.manage("load_catalogue")
        c.manage("seed_demo", "--provinces", "3", settings="project.settings.local")
        c.start_replica()
        for name in ("web1", "web2"):
            c.start_web(name)
        for name in ("worker1", "worker2"):
            c.start_workers(name)
        c.start_beat("beat")
        beat_log = c.log("beat-beat")
        wait_until(lambda: "beat lease taken" in beat_log.read_text(), timeout=90, what="beat")
        c.start_beat("web2")  # a second beat, started by mistake: it must send nothing
        self._django()
        self.tokens = self._tokens()
        for name in ("web1", "web2"):
            wait_until(lambda n=name: c.web_ready(n), timeout=90, what=f"gunicorn on {name}")
        for name in ("worker1", "worker2"):
            wait_until(lambda n=name: c.worker_ready(n), timeout=90, what=f"workers on {name}")
        say(f"nine hosts up in {time.monotonic() - started:.0f} s")

    def _django(self) -> None:
        """This process reads and checks the cluster's primary with the project's models."""
        os.environ.update(self.cluster.env)
        os.environ.update(DJANGO_SETTINGS_MODULE="project.settings.local", DEBUG="false")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    def _tokens(self) -> dict[str, str]:
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        return {
            user.username: Token.objects.get_or_create(user=user)[0].key
            for user in get_user_model().objects.filter(is_active=True)
        }

    def background_cases(self, start: float) -> int:
        """The measures nobody drives, launched and cascaded to the provinces, their open tasks
        falling due one after another during the load: each sweep then has rungs to record
        and mail to send, the whole time."""
        from django.contrib.auth import get_user_model
        from django.core.exceptions import ValidationError
        from django.utils import timezone

        from workflows.cases.cascade import case_cascade
        from workflows.cases.launch import case_launch
        from workflows.models import Measure, WorkItem

        coordinator = get_user_model().objects.get(username="coordinator.office")
        cases = []
        for measure in Measure.objects.exclude(code__in=DRIVEN + DRILL).order_by("code"):
            case, _created = case_launch(measure=measure, by=coordinator)
            cases.append(case)
            try:
                cases += case_cascade(case=case, by=coordinator, level="provincial").created
            except ValidationError:
                pass  # a measure that does not apply to provinces
        items = WorkItem.objects.filter(case__in=cases, status="open").order_by("pk")
        now = timezone.now()
        for index, item in enumerate(items):
            due = now + timezone.timedelta(seconds=start + index * LOAD_SECONDS / 1.5 / len(items))
            WorkItem.objects.filter(pk=item.pk).update(due_at=due, next_alert_at=now)
        return len(cases)

    # ------------------------------------------------------------------ faults

    def cut_web1(self, balancer: Balancer, seconds: float) -> None:
        """web1's link down while a write is on its way to it (longer than the client waits)."""
        host = self.cluster.hosts["web1"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not balancer.writes_in_flight["web1"]:
            time.sleep(0.005)
        in_flight = balancer.writes_in_flight["web1"]
        host.link_down()
        time.sleep(seconds)
        host.link_up()
        self.faults.append(
            f"web1's link down for {seconds:.0f} s, cut with {in_flight} write(s) in flight"
        )

    def _mid_run(self, name: str) -> tuple[str | None, str | None]:
        """(a sweep, a render) the worker host is running now, by task id."""
        c = self.cluster
        _done, sweeping = task_log(c.log(f"{name}-sweep-notify"))
        _done, rendering = task_log(c.log(f"{name}-reports"))
        sweep = next((i for i, n in sweeping.items() if n == "tasks.timers.sweep"), None)
        return sweep, next(iter(rendering), None)

    def kill_worker_host(self, driver: Driver, watch: float) -> None:
        """Every process of a worker host, at a moment when it runs both a sweep and a render.
        (Whichever host that is: beat's rhythm can leave every sweep to one of them.)"""
        c = self.cluster
        for aspect in ("1", "2"):  # renders for both worker hosts to take
            driver.request_report(aspect)
        deadline = time.monotonic() + watch
        name, sweep, render = "worker1", None, None
        while time.monotonic() < deadline:
            for candidate in ("worker1", "worker2"):
                sweep, render = self._mid_run(candidate)
                if sweep and render:
                    name = candidate
                    break
            if sweep and render:
                break
            if time.monotonic() > deadline - watch / 2 and not any(
                self._mid_run(n)[1] for n in ("worker1", "worker2")
            ):
                driver.request_report("3")
            time.sleep(0.02)
        from workflows.models import Report

        mid_render = list(Report.objects.filter(status="rendering").values_list("pk", flat=True))
        count = c.hosts[name].kill_all()
        self.killed = {
            "host": name,
            "sweep": sweep,
            "render": render,
            "rendering": mid_render,
            "pids": count,
        }
        what = " and ".join(
            part for part, task in (("a sweep", sweep), ("a render", render)) if task is not None
        )
        self.faults.append(
            f"{name}: all {count} processes killed (SIGKILL) in the middle of "
            f"{what or 'nothing (no coincidence found)'}; started again 10 s later"
        )

    def restart_killed_worker(self) -> None:
        c = self.cluster
        name = self.killed["host"]
        log = c.log(f"{name}-reports")
        before = log.read_text(errors="replace").count(" ready.")
        c.start_workers(name)
        wait_until(
            lambda: log.read_text(errors="replace").count(" ready.") > before,
            timeout=90,
            what=f"{name} back",
        )

    def restart_redis(self) -> None:
        down = self.cluster.restart_redis()
        self.faults.append(f"Redis restarted (down {down:.1f} s, every queued message lost)")

    # ------------------------------------------------------------------ the replica drill

    def _status(self, driver: Driver, user: str, code: str) -> str:
        rows = driver.get("/api/v1/measures/", user).body
        return next(row["status"] for row in rows if row["code"] == code)

    def replica_drill(self, driver: Driver) -> None:
        """Replica reads, read-your-writes, and falling back when it lags or is cut."""
        import psycopg

        replica = psycopg.connect(self.cluster.replica_url, autocommit=True)
        try:
            for code in DRILL:
                replica.execute("SELECT pg_wal_replay_pause()")
                paused = time.monotonic()
                record = driver.launch(code)
                if record is None:
                    continue
                stale = self._status(driver, "auditor", code)
                own = self._status(driver, "coordinator.office", code)
                if stale == "none" and own == "open":
                    break
                replica.execute("SELECT pg_wal_replay_resume()")
            else:
                raise AssertionError("the replica drill never saw a stale replica read")
            self.replica["replica reads"] = (
                "yes: an auditor's dashboard did not show a launch the paused replica had not "
                "replayed"
            )
            self.replica["read-your-writes"] = "yes: the coordinator saw their own launch at once"
            wait_until(
                lambda: self._status(driver, "auditor", code) == "open",
                timeout=30,
                what="reads to leave the lagging replica",
                every=0.3,
            )
            self.replica["lag fallback"] = (
                f"after {time.monotonic() - paused:.1f} s of paused replay (limit 3 s)"
            )
            replica.execute("SELECT pg_wal_replay_resume()")
            self.faults.append(f"replica replay paused {time.monotonic() - paused:.0f} s")
        finally:
            replica.close()
        host = self.cluster.hosts["replica"]
        host.link_down()
        took = []
        try:
            until = time.monotonic() + 8
            while time.monotonic() < until:
                started = time.monotonic()
                assert self._status(driver, "auditor", code) == "open"
                took.append(time.monotonic() - started)
        finally:
            host.link_up()
        self.faults.append("replica host's link cut for 8 s")
        # Each web process pays for finding the replica gone once (a connect timeout), then
        # leaves it alone for REPLICA_DOWN_SECONDS.
        slow = sorted(took)[-4:]
        self.replica["down fallback"] = (
            f"{len(took)} dashboard reads while the replica was cut, all answered and current; "
            f"the slowest (one per web process) {', '.join(f'{t:.1f}' for t in slow)} s, "
            f"the rest at most {max(sorted(took)[:-4] or [0]):.2f} s"
        )

    # ------------------------------------------------------------------ load

    def cpu_snapshot(self) -> dict[str, float]:
        hosts = self.cluster.hosts
        cpu = {
            # gunicorn only: web2 also runs the mistaken beat.
            "web": hosts["web1"].cpu_seconds("gunicorn") + hosts["web2"].cpu_seconds("gunicorn"),
            "db": hosts["db"].cpu_seconds("postgres"),
        }
        for name in ("worker1", "worker2"):
            cpu[f"{name} sweep-notify"] = hosts[name].cpu_seconds("sweep,notify")
            cpu[f"{name} reports"] = hosts[name].cpu_seconds("-Q reports")
        return cpu

    def load(self) -> tuple[Driver, Ledger]:
        c = self.cluster
        webs = {name: c.hosts[name].address for name in ("web1", "web2")}
        ledger = Ledger()
        balancer = Balancer(webs, WEB_PORT)
        driver = Driver(balancer, self.tokens, ledger, seed=21)
        records = [r for r in (driver.launch(code) for code in DRIVEN) if r is not None]
        background = self.background_cases(start=5)
        say(f"{len(records)} cases driven, {background} background cases falling due")
        start = time.monotonic()
        deadline = start + LOAD_SECONDS
        cpu_before = self.cpu_snapshot()
        tasks_before = {name: self.worker_tasks(name) for name in ("worker1", "worker2")}
        access_before = self.served()
        threads = [
            threading.Thread(target=driver.run_cases, args=(records[i::4], deadline), daemon=True)
            for i in range(4)
        ]
        threads.append(
            threading.Thread(
                target=driver.run_reports, args=(["1", "2", "3", "4"], deadline, 5.0), daemon=True
            )
        )
        threads.append(threading.Thread(target=driver.run_reads, args=(deadline,), daemon=True))
        for thread in threads:
            thread.start()

        def at(offset: float) -> None:
            time.sleep(max(0.0, start + offset - time.monotonic()))

        at(8)
        self.cut_web1(balancer, 12)
        at(22)
        self.kill_worker_host(driver, watch=30)
        time.sleep(10)
        self.restart_killed_worker()
        self.restart_redis()
        time.sleep(3)
        self.replica_drill(driver)
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic() + 30))
        driver.stop.set()
        elapsed = time.monotonic() - start
        cpu_after = self.cpu_snapshot()
        # Per task from the worker host that was not killed (the killed one's counters died).
        survivor = "worker2" if self.killed.get("host") == "worker1" else "worker1"
        tasks = self.worker_tasks(survivor)
        ran = {label: tasks[label] - tasks_before[survivor][label] for label in tasks}
        used = {
            label: cpu_after[f"{survivor} {label}"] - cpu_before[f"{survivor} {label}"]
            for label in tasks
        }
        served = sum(self.served().values()) - sum(access_before.values())
        self.cpu = {
            "window": elapsed,
            "requests": served,
            "web per request": (cpu_after["web"] - cpu_before["web"]) / max(served, 1),
            "db per request": (cpu_after["db"] - cpu_before["db"]) / max(served, 1),
            "survivor": survivor,
            "sweep-notify per task": used["sweep-notify"] / max(ran["sweep-notify"], 1),
            "per render": used["reports"] / max(ran["reports"], 1),
            "renders": ran["reports"],
            "sweep-notify tasks": ran["sweep-notify"],
            "web cores": (cpu_after["web"] - cpu_before["web"]) / elapsed,
        }
        say(f"load done after {elapsed:.0f} s: {ledger.writes} writes, {ledger.reads} reads")
        return driver, ledger

    def worker_tasks(self, name: str) -> dict[str, int]:
        c = self.cluster
        return {
            label: sum(task_log(c.log(f"{name}-{label}"))[0].values())
            for label in ("sweep-notify", "reports")
        }

    def served(self) -> Counter:
        return Counter(
            {
                name: sum(access_counts(self.cluster.log(f"{name}-access")).values())
                for name in ("web1", "web2")
            }
        )

    def drain(self, timeout: float = 150) -> float:
        """Wait until every report is rendered and every due message sent (or given up)."""
        from django.db import close_old_connections
        from django.utils import timezone

        from workflows.models import Notification, Report

        def settled() -> bool:
            close_old_connections()
            busy_reports = Report.objects.filter(status__in=["queued", "rendering"]).exists()
            busy_mail = Notification.objects.filter(
                status__in=["pending", "sending"], next_attempt_at__lte=timezone.now()
            ).exists()
            return not busy_reports and not busy_mail

        started = time.monotonic()
        wait_until(settled, timeout=timeout, what="reports and mail to settle", every=1)
        time.sleep(3)  # the last deliveries' SMTP conversations
        return time.monotonic() - started


# --------------------------------------------------------------------------- figures


def figures(scenario: Scenario, ledger: Ledger, outcomes, audit: str) -> list[str]:
    c = scenario.cluster
    lines = ["", "cluster-test figures", "--------------------"]
    for name in ("web1", "web2"):
        counts = access_counts(c.log(f"{name}-access"))
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        lines.append(f"requests served   {name}: {sum(counts.values())} ({detail})")
    seconds: dict[str, list] = {}
    for name in ("worker1", "worker2"):
        done = Counter()
        for label in ("sweep-notify", "reports"):
            done += task_log(c.log(f"{name}-{label}"), seconds)[0]
        parts = ", ".join(f"{n.split('.')[-1]} {k}" for n, k in sorted(done.items()))
        lines.append(f"tasks run         {name}: {sum(done.values())} ({parts})")
    lines.append(
        "task run time     "
        + ", ".join(
            f"{name.split('.')[-1]} median {sorted(t)[len(t) // 2] * 1000:.0f} ms, "
            f"max {max(t) * 1000:.0f} ms"
            for name, t in sorted(seconds.items())
        )
    )
    for name in ("beat", "web2"):
        text = c.log(f"{name}-beat").read_text(errors="replace")
        sent = text.count("Sending due task sweep")
        role = "beat host" if name == "beat" else "web2, started by mistake"
        lines.append(f"beat              {role}: {sent} sweeps sent")
    lines.append(f"faults injected   {len(scenario.faults)}")
    lines += [f"  - {fault}" for fault in scenario.faults]
    reconciled = ", ".join(f"{k} {v}" for k, v in sorted(ledger.reconciled.items()))
    lines.append(
        f"lost in flight    {ledger.lost_in_flight} writes without an answer (web1 cut), "
        f"read back afterwards: {reconciled or 'none'}"
    )
    killed = scenario.killed
    if killed:
        lines.append(
            f"killed mid-run    {killed['host']}: sweep {killed['sweep']}, render "
            f"{killed['render']}; reports "
            f"rendering at that moment: {killed['rendering']} (each rendered once in the end)"
        )
    refused = sum(ledger.refused.values())
    lines.append(f"refused writes    {refused} {dict(ledger.refused) if refused else ''}".rstrip())
    for key, value in scenario.replica.items():
        lines.append(f"replica           {key}: {value}")
    for outcome in outcomes:
        parts = ", ".join(f"{k} {v}" for k, v in outcome.figures.items())
        lines.append(f"{outcome.name:<18}{parts}{'' if outcome.ok else '  <-- FAILED'}")
    lines.append(f"audit chain       {audit}")
    cpu = scenario.cpu
    if cpu:
        lines.append(
            f"CPU (measured)    web {cpu['web per request'] * 1000:.0f} ms + PostgreSQL "
            f"{cpu['db per request'] * 1000:.0f} ms per request ({cpu['requests']} requests "
            f"in {cpu['window']:.0f} s, {cpu['web cores']:.2f} cores of gunicorn); "
            f"sweep/mail worker {cpu['sweep-notify per task'] * 1000:.0f} ms per task "
            f"({cpu['sweep-notify tasks']} on {cpu['survivor']}); renderer "
            f"{cpu['per render'] * 1000:.0f} ms per render ({cpu['renders']} on "
            f"{cpu['survivor']})"
        )
    return lines


# --------------------------------------------------------------------------- main


def skip_reason() -> str:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs iproute2's `ip`"
    return ""


def remove_stale_dirs() -> None:
    for folder in Path(tempfile.gettempdir()).glob("rf21-cluster-*"):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def keep_logs(cluster: Cluster | None) -> None:
    if cluster is None or not cluster.logs.exists():
        return
    shutil.rmtree(LOG_COPY, ignore_errors=True)
    shutil.copytree(cluster.logs, LOG_COPY)
    shutil.copy(cluster.mail_file, LOG_COPY / "mail.jsonl")


class Timeout(Exception):  # noqa: N818 - reads as what happened
    """The run was stopped: its hard time limit, or a signal."""


def main() -> int:
    reason = skip_reason()
    if reason:
        say(f"skipped: {reason}. Run it as root with iproute2 (CI does).")
        return 0
    for tool in ("redis-server", "runuser"):
        if shutil.which(tool) is None:
            say(f"failed: {tool} is not installed")
            return 1
    lock = LOCK_FILE.open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say("failed: another cluster-test is running")
        return 1

    def stop(signum, _frame):
        raise Timeout(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(HARD_LIMIT_SECONDS)
    removed = net.clean_up()
    if removed:
        say(f"removed what an earlier run left: {', '.join(removed)}")
    remove_stale_dirs()
    workdir = Path(tempfile.mkdtemp(prefix="rf21-cluster-"))
    cluster = None
    started = time.monotonic()
    try:
        cluster = Cluster(workdir)
        scenario = Scenario(cluster)
        scenario.build()
        driver, ledger = scenario.load()
        drained = scenario.drain()
        say(f"reports and mail settled {drained:.0f} s after the load")
        driver.reconcile()
        for host in cluster.hosts.values():
            if host.name not in ("db", "replica"):
                for label in list(host.processes):
                    host.stop(label)
        audit_run = cluster.manage("verify_audit", check=False)
        audit = (audit_run.stdout + audit_run.stderr).strip().splitlines()[-1:]
        audit_text = audit[0] if audit else f"exit {audit_run.returncode}"
        # The project's own file check where it exists; check_files() does the same sums.
        from django.core.management import get_commands

        files_run = None
        if "verify_files" in get_commands():
            files_run = cluster.manage("verify_files", check=False)
        outcomes = [
            check_cases(ledger),
            check_reports(ledger),
            check_mail(cluster.mail_file),
            check_files(),
        ]
        for line in figures(scenario, ledger, outcomes, audit_text):
            print(line)
        problems = [p for o in outcomes for p in o.problems]
        if audit_run.returncode != 0:
            problems.append(f"verify_audit failed: {audit_text}")
        if files_run is not None:
            print(f"verify_files      {(files_run.stdout + files_run.stderr).strip()[-300:]}")
            if files_run.returncode != 0:
                problems.append("verify_files failed")
        if ledger.refused:
            problems.append(f"writes refused: {dict(ledger.refused)}")
        if not scenario.killed.get("sweep") or not scenario.killed.get("render"):
            problems.append("no worker host was killed in the middle of a sweep and a render")
        beat2 = cluster.log("web2-beat").read_text(errors="replace")
        if "Sending due task" in beat2:
            problems.append("the second beat sent periodic tasks")
        for problem in problems:
            say(f"FAILED: {problem}")
        say(f"{'FAILED' if problems else 'passed'} in {time.monotonic() - started:.0f} s")
        return 1 if problems else 0
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, report it and clean up
        traceback.print_exc()
        say(f"FAILED: {type(exc).__name__}: {exc}")
        return 1
    finally:
        # Nothing may interrupt the clean-up: every process of every test host is killed with
        # its namespace (the application hosts were already stopped politely on success).
        signal.alarm(0)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        if cluster is not None:
            keep_logs(cluster)
        net.clean_up()
        shutil.rmtree(workdir, ignore_errors=True)
        lock.close()
        if cluster is not None:
            say(f"logs of this run in {LOG_COPY.relative_to(ROOT)}/; hosts and temp files removed")
