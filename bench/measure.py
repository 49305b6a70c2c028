"""Time and peak memory for the benchmarks (Linux /proc), shared by the bench scripts."""

import time
from pathlib import Path


def status_mib(field: str) -> float:
    """A field of /proc/self/status in MiB (VmRSS now, VmHWM the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_reset() -> float:
    """Reset the peak RSS (VmHWM) to the current RSS and return it. Not ru_maxrss: that cannot
    be reset and keeps the peak from before exec (under `make bench`, bench.py's)."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_mib("VmRSS")


def peak_mib() -> float:
    return status_mib("VmHWM")


def report_timed(report) -> tuple[float, float, int, float, float]:
    """(data seconds, render seconds, PDF bytes, peak RSS MiB, RSS MiB before) of one report."""
    from django.utils import timezone

    from workflows.reports.data import report_data_collect
    from workflows.reports.render import report_pdf

    before = peak_reset()
    started = time.perf_counter()
    data = report_data_collect(report, as_of=timezone.now())
    gathered = time.perf_counter()
    pdf = report_pdf(data)
    return gathered - started, time.perf_counter() - gathered, len(pdf), peak_mib(), before
