"""Decisions per second with 1, 4 and 8 concurrent clients, each on its own case (issue 20:
"audit appends never serialise the system").

Each client is a process with its own PostgreSQL connection that calls the services directly:
on its case it alternates the staff's `task_submit` of the draft and the head's `task_return`
of the approval, so every decision is one full service transaction (activation lock, work
items, viewflow, lights, audit append). Different clients never touch the same case, so the
only thing they share is the audit chain.

    DATABASE_URL=postgres://.../db DJANGO_SETTINGS_MODULE=project.settings.test \
        .venv/bin/python bench/audit_bench.py            # needs load_catalogue and seed_demo

BENCH_AUDIT_SECONDS (default 10) is each measurement's length; BENCH_AUDIT_CLIENTS (1,4,8).
The database keeps the cases and events it adds (use a scratch database).
"""

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
import django  # noqa: E402

django.setup()
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, connections  # noqa: E402

from workflows.cases import services  # noqa: E402
from workflows.cases.launch import case_launch  # noqa: E402
from workflows.models import AuditEvent, Measure, WorkItem  # noqa: E402

SECONDS = float(os.environ.get("BENCH_AUDIT_SECONDS", "10"))
CLIENTS = [int(n) for n in os.environ.get("BENCH_AUDIT_CLIENTS", "1,4,8").split(",")]


def _routed_user(item: WorkItem):
    if item.assignee_id:
        return item.assignee
    if item.leader_role_id:
        return item.leader_role.holder
    if item.for_head:
        return item.department.head
    return item.department.staff.order_by("username").first()


def _open(case_id: int) -> WorkItem:
    return WorkItem.objects.select_related(
        "step", "department", "leader_role", "assignee", "case"
    ).get(case_id=case_id, status="open")


def _decide(case_id: int) -> None:
    item = _open(case_id)
    user = _routed_user(item)
    if item.step.kind == "submit":
        if not item.assignee_id:
            services.task_claim(item=item, user=user)
            item = _open(case_id)
        services.task_submit(item=item, user=user, note="Bench draft.")
    else:
        services.task_return(item=item, user=user, reason="Bench: again.")


def _cases(count: int) -> list[int]:
    """`count` cases whose open step is a draft followed by an approval (launched if needed)."""
    coordinator = get_user_model().objects.get(username="coordinator.office")
    found = []
    for measure in Measure.objects.order_by("code"):
        case, _created = case_launch(measure=measure, by=coordinator)
        item = _open(case.pk)
        if item.step.kind not in ("submit", "approve"):
            continue
        try:  # one full submit/return round proves the loop works on this case
            _decide(case.pk)
            _decide(case.pk)
        except Exception as exc:  # noqa: BLE001 - such a case is left out of the bench
            print(f"  skipping {measure.code}: {exc}", file=sys.stderr)
            continue
        found.append(case.pk)
        if len(found) == count:
            return found
    raise SystemExit(f"only {len(found)} usable cases, {count} needed")


def _client(case_id: int, start_at: float, stop_at: float, results) -> None:
    connections.close_all()  # a fresh connection in each process
    decisions = 0
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < stop_at:
        _decide(case_id)
        decisions += 1
    results.put(decisions)
    connections.close_all()


def _measure(case_ids: list[int]) -> tuple[float, int, float]:
    load = os.getloadavg()[0]
    connections.close_all()
    results = multiprocessing.get_context("fork").Queue()
    start_at = time.time() + 1.0
    stop_at = start_at + SECONDS
    procs = [
        multiprocessing.get_context("fork").Process(
            target=_client, args=(case_id, start_at, stop_at, results)
        )
        for case_id in case_ids
    ]
    for proc in procs:
        proc.start()
    total = sum(results.get() for _ in procs)
    for proc in procs:
        proc.join()
    # Decisions started before stop_at may finish after it: divide by the time actually used.
    elapsed = max(time.time() - start_at, SECONDS)
    return total / elapsed, total, load


def main() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("needs PostgreSQL (set DATABASE_URL)")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    case_ids = _cases(max(CLIENTS))
    events_before = AuditEvent.objects.count()
    print(f"commit {commit}, {SECONDS:.0f} s per measurement, {os.cpu_count()} cores")
    print("| clients | decisions/s | decisions | load average (1 min) at start |")
    print("|---|---|---|---|")
    for clients in CLIENTS:
        rate, total, load = _measure(case_ids[:clients])
        print(f"| {clients} | {rate:.1f} | {total} | {load:.2f} |", flush=True)
    # Let a deferred sealer finish, then report how much of the chain is still pending.
    time.sleep(1)
    added = AuditEvent.objects.count() - events_before
    unsealed = (
        AuditEvent.objects.filter(seq__isnull=True).count()
        if any(f.name == "seq" for f in AuditEvent._meta.fields)
        else 0
    )
    print(f"{added} audit events added, {unsealed} unsealed one second after the last")


if __name__ == "__main__":
    main()
