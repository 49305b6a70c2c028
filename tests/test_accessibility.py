"""Colour contrast of the RAG badges (WCAG AA), computed from app.css, and their text labels."""

import re
from pathlib import Path

import pytest
from django.utils import translation

from workflows.models import Rag
from workflows.templatetags.badges import rag_badge

CSS = Path(__file__).resolve().parents[1] / "static" / "workflows" / "app.css"
AA_TEXT = 4.5


def css_rule(selector: str) -> dict[str, str]:
    """The declarations of a single-selector rule in app.css."""
    match = re.search(rf"^{re.escape(selector)}\s*\{{([^}}]*)\}}", CSS.read_text(), re.M)
    assert match, f"{selector} is not in {CSS.name}"
    return dict(
        (name.strip(), value.strip())
        for name, value in (part.split(":", 1) for part in match.group(1).split(";") if ":" in part)
    )


def rgb(colour: str) -> tuple[int, int, int]:
    hex_digits = colour.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)
    assert re.fullmatch(r"[0-9a-fA-F]{6}", hex_digits), colour
    return tuple(int(hex_digits[i : i + 2], 16) for i in (0, 2, 4))


def luminance(colour: str) -> float:
    # WCAG 2.x relative luminance of an sRGB colour.
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_contrast_formula_matches_wcag_reference_values():
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#fff", "#fff") == pytest.approx(1.0)


@pytest.mark.parametrize("rag", [value for value, _label in Rag.choices])
def test_each_rag_badge_text_meets_wcag_aa_on_its_background(rag):
    rule = css_rule(f".rf-rag-{rag}")

    ratio = contrast(rule["color"], rule["background"])

    assert ratio >= AA_TEXT, f"{rag}: {ratio:.2f}:1 is below {AA_TEXT}:1"


@pytest.mark.parametrize(
    ("selector", "background"),
    [(".rf-button", None), (".rf-msg-error", None), (".rf-msg-success", None)],
)
def test_buttons_and_messages_meet_wcag_aa(selector, background):
    rule = css_rule(selector)
    assert contrast(rule["color"], background or rule["background"]) >= AA_TEXT


@pytest.mark.parametrize(
    ("rag", "english", "chinese_rag_word"),
    [("red", "Red", "红"), ("amber", "Amber", "黄"), ("green", "Green", "绿")],
)
def test_each_rag_badge_says_its_status_in_words_not_only_in_colour(rag, english, chinese_rag_word):
    html = rag_badge(rag)

    assert f'class="rf-rag rf-rag-{rag}"' in html
    assert re.sub(r"<[^>]+>", "", html).strip().endswith(english)
    assert "RAG status:" in html
    with translation.override("zh-hans"):
        assert chinese_rag_word in rag_badge(rag)
    assert rag_badge("") == ""
