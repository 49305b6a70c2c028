"""A small, safe Markdown subset for notes the project ships (the catalogue's PROVENANCE.md):
headings, bullet lists, paragraphs, `code` and **bold**. Every character of the source is
escaped before any tag is added, so no HTML in a note can reach a page or a PDF."""

import re

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
]


def _inline(text: str) -> SafeString:
    html = escape(text)  # escaped first: the patterns below only wrap escaped text in tags
    for pattern, replacement in _INLINE:
        html = pattern.sub(replacement, html)
    # Built from escaped text and fixed tags only.
    return mark_safe(html)  # noqa: S308  # nosec B703 B308


def markdown_to_html(source: str) -> SafeString:
    """Blocks separated by blank lines; `#` headings (shown one level below h2), `- ` lists."""
    blocks: list[SafeString] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(format_html("<p>{}</p>", _inline(" ".join(paragraph))))
            paragraph.clear()
        if items:
            blocks.append(
                format_html(
                    "<ul>{}</ul>",
                    format_html_join("", "<li>{}</li>", ((_inline(i),) for i in items)),
                )
            )
            items.clear()

    for raw in source.splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        if not line:
            flush()
        elif heading:
            flush()
            level = min(6, len(heading.group(1)) + 2)
            blocks.append(format_html("<h{}>{}</h{}>", level, _inline(heading.group(2)), level))
        elif line.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(line[2:])
        elif items and raw.startswith((" ", "\t")):
            items[-1] += " " + line  # a list item's continuation line
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return format_html_join("\n", "{}", ((b,) for b in blocks))
