"""PDF reports on the national-scale data set: the programme report (30 national measures)
and the completion report of the completed case with the longest history. Each is timed
(data gathering, then WeasyPrint) with the process's peak RSS during it. Runs inside a
transaction that is rolled back, so the data set is unchanged afterwards."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
import django  # noqa: E402

django.setup()
from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import translation  # noqa: E402
from measure import report_timed  # noqa: E402 - bench/measure.py, beside this script

from workflows.models import Case, Organisation, ReportKind  # noqa: E402
from workflows.reports.services import _report_create  # noqa: E402


class Rollback(Exception):
    pass


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
            own = completed.organisation
            warm = _report_create(kind=ReportKind.COMPLETION, organisation=own, case=completed)
            report_timed(warm)  # fonts, templates and stylesheets load once per process
            for label, report in (
                (
                    "completion report",
                    _report_create(kind=ReportKind.COMPLETION, organisation=own, case=completed),
                ),
                (
                    "programme report (30 measures)",
                    _report_create(kind=ReportKind.PROGRAMME, organisation=Organisation.national()),
                ),
            ):
                gather, render, size, peak, before = report_timed(report)
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
