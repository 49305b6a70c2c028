"""PDF reports on the national-scale data set: the programme report (30 national measures)
and the completion report of the completed case with the longest history. Each is timed
(data gathering, then WeasyPrint) with the process's peak RSS during it. Runs inside a
transaction that is rolled back, so the data set is unchanged afterwards."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
import django  # noqa: E402

django.setup()
from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone, translation  # noqa: E402

from workflows.models import Case, ReportKind  # noqa: E402
from workflows.report_data import report_data_collect  # noqa: E402
from workflows.reports import report_pdf  # noqa: E402
from workflows.services import _report_create  # noqa: E402


class Rollback(Exception):
    pass


def status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(report) -> tuple[float, float, int, float, float]:
    # Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS (Linux), so the
    # peak read afterwards is this report's.
    Path("/proc/self/clear_refs").write_text("5")
    before = status_mib("VmRSS")
    started = time.perf_counter()
    data = report_data_collect(report, as_of=timezone.now())
    gathered = time.perf_counter()
    pdf = report_pdf(data)
    return gathered - started, time.perf_counter() - gathered, len(pdf), status_mib("VmHWM"), before


def main() -> None:
    translation.activate("zh-hans")  # Chinese titles: the CJK font is part of the cost
    completed = (
        Case.objects.filter(is_open=False)
        .annotate(n_events=Count("events"))
        .order_by("-n_events", "pk")
        .first()
    )
    rows = []
    try:
        with transaction.atomic():
            warm = _report_create(kind=ReportKind.COMPLETION, case=completed)
            measure(warm)  # fonts, templates and stylesheets load once per process
            for label, report in (
                ("completion report", _report_create(kind=ReportKind.COMPLETION, case=completed)),
                ("programme report (30 measures)", _report_create(kind=ReportKind.PROGRAMME)),
            ):
                gather, render, size, peak, before = measure(report)
                rows.append(
                    f"| {label} | {gather:.2f} s | {render:.2f} s | {gather + render:.2f} s | "
                    f"{size / 1024:.0f} KiB | {peak:.0f} MiB (+{peak - before:.0f}) |"
                )
            raise Rollback
    except Rollback:
        pass
    print("| report | data | render | total | size | peak RSS (growth) |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows), flush=True)


if __name__ == "__main__":
    main()
