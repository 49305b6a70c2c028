"""The programme PDF (issue 18): measures not launched are one table, not a page each, and the
catalogue's PROVENANCE.md reads as formatted text, not raw Markdown."""

import subprocess
from pathlib import Path

from django.urls import reverse

from tests.test_reports import needs_pdftotext, pdf_text
from workflows.common.markdown_text import markdown_to_html
from workflows.models import Measure, Report


@needs_pdftotext
def test_unlaunched_measures_are_one_table_and_the_provenance_is_formatted(
    client, coordinator, launch, django_capture_on_commit_callbacks
):
    launch("1.1")
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("workflows:report_request"), {"aspect": ""})
    report = Report.objects.get(kind="programme")
    assert report.status == "ready", report.error
    pages = subprocess.run(
        ["pdftotext", "-layout", str(Path(report.file.path)), "-"],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")
    page_count = pages.count("\f")
    # Cover, contents, the summary (its table of 30 rows runs over pages), one launched measure,
    # the table of the 29 others (a few pages) and the provenance: far from a page each.
    assert page_count <= 12, page_count
    text = pdf_text(report)
    assert "Not launched: no case yet." not in text
    assert text.count("Measures not launched yet") >= 1
    unlaunched = [m for m in Measure.objects.exclude(code="1.1")]
    assert len(unlaunched) == 29
    table = pages[
        pages.index("Measures not launched yet", pages.index("Measures not launched yet") + 1) :
    ]
    for measure in unlaunched:
        assert f"{measure.code} " in table, measure.code
    # PROVENANCE.md as text: no Markdown marks left, its heading and list items kept.
    assert "Reform-plan catalogue (reference data)" in text
    assert "# Reform-plan" not in text and "`reform-plan-2018.yaml`" not in text
    assert "reform-plan-2018.yaml: 7 aspects" in text


def test_the_markdown_subset_escapes_html():
    html = str(markdown_to_html("# Title\n\n- `a` <script>x</script>\n  more\n\nPara **b** <b>"))
    assert html.startswith("<h3>Title</h3>")
    assert "<li><code>a</code> &lt;script&gt;x&lt;/script&gt; more</li>" in html
    assert "<p>Para <strong>b</strong> &lt;b&gt;</p>" in html
    assert "<script>" not in html
