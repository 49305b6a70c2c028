"""Report rendering times (prints figures; not a pass/fail test, and not collected by default).

Run: PYTHONPATH=. .venv/bin/pytest -p tests.conftest bench/reports_bench.py -s -q -p no:logging
It launches all 30 measures, walks ten of them to the end through the pages and reports
progress on the rest, then times one completion report and the whole-programme report.
"""

import time
from pathlib import Path

from django.utils import timezone

from tests.casework import advance, open_item_of, walk_to_end
from workflows import services
from workflows.models import Measure, Report, ReportKind
from workflows.report_data import report_data_collect
from workflows.reports import report_pdf


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _time(report: Report) -> tuple[float, float, int, float, float]:
    # Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current RSS, so the peak
    # read afterwards belongs to this report alone.
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    data = report_data_collect(report, as_of=timezone.now())
    gathered = time.perf_counter()
    pdf = report_pdf(data)
    rendered = time.perf_counter()
    return gathered - start, rendered - gathered, len(pdf), _status_mib("VmHWM"), before


def test_report_timings(client, launch, coordinator):
    codes = list(Measure.objects.values_list("code", flat=True))
    cases = [launch(code) for code in codes]
    for case in cases[:10]:
        walk_to_end(client, case)
    for case in cases[10:]:
        for _ in range(3):
            advance(client, case)
        open_item_of(case)

    cases[0].refresh_from_db()
    completion = services.report_queue_completion(case=cases[0])
    programme = services.report_request_programme(by=coordinator)
    assert programme.kind == ReportKind.PROGRAMME
    _time(completion)  # warm-up: fonts and templates load once per process
    for label, report in (("completion", completion), ("programme", programme)):
        gather, render, size, peak, before = _time(report)
        print(
            f"\n{label:10s} data {gather:5.2f} s  render {render:5.2f} s  "
            f"total {gather + render:5.2f} s  {size / 1024:6.0f} KiB  "
            f"peak RSS {peak:4.0f} MiB (+{peak - before:.0f} MiB over the {before:.0f} before)"
        )
