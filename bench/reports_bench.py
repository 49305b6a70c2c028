"""Report rendering times (prints figures; not a pass/fail test, and not collected by default).

Run: PYTHONPATH=. .venv/bin/pytest -p tests.conftest bench/reports_bench.py -s -q -p no:logging
It launches all 30 measures, walks ten of them to the end through the pages and reports
progress on the rest, then times one completion report and the whole-programme report.
"""

from measure import report_timed  # bench/measure.py: pytest puts this folder on the path

from tests.casework import advance, open_item_of, walk_to_end
from workflows.models import Measure, ReportKind
from workflows.reports import services as reports_services


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
    completion = reports_services.report_queue_completion(case=cases[0])
    programme = reports_services.report_request_programme(by=coordinator)
    assert programme.kind == ReportKind.PROGRAMME
    report_timed(completion)  # warm-up: fonts and templates load once per process
    for label, report in (("completion", completion), ("programme", programme)):
        gather, render, size, peak, before = report_timed(report)
        print(
            f"\n{label:10s} data {gather:5.2f} s  render {render:5.2f} s  "
            f"total {gather + render:5.2f} s  {size / 1024:6.0f} KiB  "
            f"peak RSS {peak:4.0f} MiB (+{peak - before:.0f} MiB over the {before:.0f} before)"
        )
