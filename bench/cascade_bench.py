"""Cases per second when cascading (issue 20): one cascade at a time, then two at once on
different cases, each cascading a national case to 100 provincial federations (made by the
bench) through workflows.cases.cascade.case_cascade (what the page and the API call for a
cascade small enough to run in the request; a background job runs the same batches).

Each cascade runs in a transaction that is rolled back once timed, so the data set stays the
same from run to run (and from one commit of the code to another); the commit itself is not
timed. Run on a data set built as bench/run.sh builds it, e.g. with 300 organisations:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rf_cascade_scale \\
        .venv/bin/python bench/cascade_bench.py --cases 6
"""

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()


def _targets(count: int) -> None:
    """`count` provincial federations of the bench's own below the national one (made once,
    kept): the generated ones already have a case of every measure. Each department gets a
    head and a staff member, so first tasks go to people and queues as in real federations."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from workflows.models import Department, Organisation, OrganisationLevel
    from workflows.organisations.services import organisation_create

    national = Organisation.national()
    level = OrganisationLevel.objects.get(key="provincial")
    have = Organisation.objects.filter(code__startswith="bench-cascade-").count()
    users = get_user_model().objects
    password = make_password("bench-password")
    for n in range(have, count):
        organisation = organisation_create(
            code=f"bench-cascade-{n:03}",
            title_en=f"Bench federation {n}",
            level=level,
            parent=national,
        )
        for department in Department.objects.filter(organisation=organisation):
            prefix = f"{organisation.code}.{department.key}"
            head, staff = users.bulk_create(
                [
                    users.model(username=f"{prefix}.{role}", password=password)
                    for role in ("head", "staff")
                ]
            )
            department.head = head
            department.save(update_fields=["head"])
            department.staff.add(staff)


def _candidates(count: int) -> list[int]:
    """National open cases of measures for provinces, none with a case in a bench federation."""
    from workflows.models import Case, Organisation

    national = Organisation.national()
    cases = [
        case
        for case in Case.objects.filter(organisation=national, is_open=True)
        .select_related("measure")
        .order_by("measure__code")
        if "provincial" in (case.measure.applies_to_levels or [])
    ]
    if len(cases) < count:
        raise SystemExit(f"only {len(cases)} national cases can cascade to provinces")
    return [case.pk for case in cases[:count]]


def _cascade(case_id: int, *, count_queries: bool = False) -> tuple[int, float, int]:
    """(children made, seconds, queries) for one cascade to the bench's federations, rolled back."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from workflows.cases import cascade
    from workflows.models import Case, Organisation

    by = get_user_model().objects.get(username="coordinator.office")
    case = Case.objects.select_related("measure", "organisation").get(pk=case_id)
    targets = list(Organisation.objects.filter(code__startswith="bench-cascade-").order_by("code"))
    with transaction.atomic():
        context = CaptureQueriesContext(connection) if count_queries else None
        started = time.perf_counter()
        if context is not None:
            with context:
                result = cascade.case_cascade(case=case, by=by, organisations=targets)
        else:
            result = cascade.case_cascade(case=case, by=by, organisations=targets)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return len(result.created), elapsed, len(context) if context is not None else 0


def _worker(case_ids: list[int], barrier, results) -> None:
    _setup()
    from django.db import connection

    connection.ensure_connection()
    _cascade(case_ids[0])  # warm: imports, caches, connection
    barrier.wait()
    started, made = time.perf_counter(), 0
    for case_id in case_ids:
        made += _cascade(case_id)[0]
    results.put((made, time.perf_counter() - started))


def _in_parallel(groups: list[list[int]]) -> tuple[int, float]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(groups) + 1), context.Queue()
    workers = [context.Process(target=_worker, args=(g, barrier, results)) for g in groups]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    outcomes = [results.get() for _ in workers]
    wall = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return sum(made for made, _ in outcomes), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=6, help="national cases to cascade (even)")
    parser.add_argument("--targets", type=int, default=100, help="federations per cascade")
    args = parser.parse_args()
    _setup()
    _targets(args.targets)
    case_ids = _candidates(args.cases)
    made, _seconds, queries = _cascade(case_ids[0], count_queries=True)
    print(f"one cascade: {made} children, {queries} queries ({queries / max(made, 1):.1f}/child)")
    # One process, one cascade after the other.
    load = os.getloadavg()[0]
    sequential = _in_parallel([case_ids])
    one = sequential[0] / sequential[1]
    print(
        f"one at a time: {sequential[0]} cases in {sequential[1]:.2f} s = {one:.0f} cases/s"
        f" (load average at the start: {load:.2f})"
    )
    # Two processes, each cascading its half of the cases, at the same time.
    half = len(case_ids) // 2
    load = os.getloadavg()[0]
    both = _in_parallel([case_ids[:half], case_ids[half:]])
    two = both[0] / both[1]
    print(
        f"two at once: {both[0]} cases in {both[1]:.2f} s = {two:.0f} cases/s ({two / one:.2f}x)"
        f" (load average at the start: {load:.2f})"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
