"""Rendering reports: template -> HTML -> PDF bytes with WeasyPrint, and the inline SVG charts.

Rendering never touches the network. WeasyPrint fetches stylesheets and images through
`StaticFilesOnlyFetcher`, which serves the project's own static files and refuses every
other URL (http, https, file, data...). All text reaches the PDF through Django's
autoescaping templates or `format_html`.
"""

import mimetypes
import posixpath
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from workflows.cases.timeline import case_timeline, timeline_svg
from workflows.models import ReportKind
from workflows.reports.data import ReportData

# Documents are rendered with this base URL; the host is reserved (RFC 2606), never resolved.
STATIC_BASE_URL = "https://static.reformflow.invalid/"

TEMPLATES = {
    ReportKind.COMPLETION: "reports/completion.html",
    ReportKind.PROGRAMME: "reports/programme.html",
}


class FetchRefused(ValueError):
    """A document asked for something other than one of the project's static files."""


def static_file_for(url: str) -> Path | None:
    """The project's static file a report URL names, or None if it names anything else."""
    if not url.startswith(STATIC_BASE_URL):
        return None
    parts = urlsplit(url)
    relative = posixpath.normpath(unquote(parts.path).lstrip("/"))
    if relative.startswith(("..", "/")) or relative == ".":
        return None
    try:
        found = finders.find(relative)
    except SuspiciousFileOperation:
        return None
    if found:
        return Path(found)
    root = Path(settings.STATIC_ROOT).resolve()
    candidate = (root / relative).resolve()
    if candidate.is_relative_to(root) and candidate.is_file():
        return candidate
    return None


class StaticFilesOnlyFetcher(URLFetcher):
    """WeasyPrint's fetcher, narrowed to the project's static files; everything else is refused."""

    def fetch(self, url, headers=None):
        path = static_file_for(url)
        if path is None:
            raise FetchRefused(f"reports fetch only the project's static files, not {url[:200]}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers = {"Content-Type": content_type}
        return URLFetcherResponse(url, body=path.read_bytes(), headers=headers)


def html_to_pdf(html: str, *, on_progress: Callable[[int], None] | None = None) -> bytes:
    """Lay out and write the PDF; only the project's static files may be fetched."""
    document = HTML(
        string=html, base_url=STATIC_BASE_URL, url_fetcher=StaticFilesOnlyFetcher()
    ).render()
    if on_progress:
        on_progress(85)
    return document.write_pdf()


def report_html(data: ReportData) -> str:
    """The report's HTML (print CSS with @page), ready for html_to_pdf."""
    return render_to_string(
        TEMPLATES[data.report.kind],
        {
            "data": data,
            "report": data.report,
            "aspect_chart": aspect_progress_svg(data),
            "deadline_chart": open_steps_svg(data),
            # The case page's timeline (workflows/timeline.py), drawn the same way.
            "case_timeline": timeline_svg(
                case_timeline(data.sections[0].case, as_of=data.as_of, items=data.sections[0].items)
            )
            if data.report.kind == ReportKind.COMPLETION and data.sections[0].case
            else "",
        },
    )


def report_pdf(data: ReportData, *, on_progress: Callable[[int], None] | None = None) -> bytes:
    """Render a report's data to PDF bytes."""
    html = report_html(data)
    if on_progress:
        on_progress(40)
    return html_to_pdf(html, on_progress=on_progress)


# --------------------------------------------------------------------------- charts

_BAR_HEIGHT = 18
_GAP = 8
_LABEL_WIDTH = 210
_PLOT_WIDTH = 300


def _bar_chart(rows: list[tuple[str, str, float, str]], *, maximum: float, title: str):
    """A horizontal bar chart: rows of (label, value text, value, colour)."""
    height = len(rows) * (_BAR_HEIGHT + _GAP) + _GAP
    width = _LABEL_WIDTH + _PLOT_WIDTH + 60
    bars = []
    for index, (label, value_text, value, colour) in enumerate(rows):
        y = _GAP + index * (_BAR_HEIGHT + _GAP)
        length = 0 if maximum <= 0 else round(_PLOT_WIDTH * min(value, maximum) / maximum, 1)
        bars.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="10">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="#e8e8e8"/>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<text x="{}" y="{}" font-size="10">{}</text>',
                _LABEL_WIDTH - 6,
                y + 13,
                label,
                _LABEL_WIDTH,
                y,
                _PLOT_WIDTH,
                _BAR_HEIGHT,
                _LABEL_WIDTH,
                y,
                length,
                _BAR_HEIGHT,
                colour,
                _LABEL_WIDTH + _PLOT_WIDTH + 6,
                y + 13,
                value_text,
            )
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        'width="{}" height="{}" viewBox="0 0 {} {}"><title>{}</title>{}</svg>',
        width,
        height,
        width,
        height,
        title,
        format_html_join("", "{}", ((bar,) for bar in bars)),
    )


def _shorten(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def aspect_progress_svg(data: ReportData) -> SafeString:
    """Bar chart of the mean percent complete of each aspect's measures."""
    rows = [
        (
            _shorten(f"{bar.aspect.code}. {bar.aspect.title}"),
            f"{bar.percent}%",
            bar.percent,
            "#3949ab",
        )
        for bar in data.aspect_bars
    ]
    return _bar_chart(rows, maximum=100, title=_("Progress by aspect"))


def open_steps_svg(data: ReportData) -> SafeString:
    """Bar chart of open steps: on time, overdue, paused and without a deadline."""
    counts = [
        (_("On time"), data.on_time, "#1b5e20"),
        (_("Overdue"), data.overdue, "#b71c1c"),
        (_("Paused"), data.paused, "#9e9e9e"),
        (_("No deadline"), data.no_deadline, "#ffb300"),
    ]
    rows = [(label, str(count), count, colour) for label, count, colour in counts]
    return _bar_chart(rows, maximum=max([1, *(c for _l, c, _c in counts)]), title=_("Open steps"))
