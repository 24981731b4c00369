"""Text for people: the model card page (NAME.md), whose card strings cannot rewrite it, and `live --help`.

The page is rendered with markdown-it (CommonMark with tables and raw HTML allowed, as GitHub renders a
README), so the checks are on what a reader sees, not on the Markdown source.
"""

from __future__ import annotations

import re

import numpy as np
from markdown_it import MarkdownIt

from live.formats.card import ModelCard
from live.formats.card_text import card_markdown

HOSTILE = "x\n## Fake section <script>alert(1)</script> \x1b[31m | [link](http://example.org) `code` *bold*"
SECTIONS = [
    "Model details",
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Evaluation",
    "Limitations",
    "How to reproduce",
]


def _card(text: str) -> ModelCard:
    return ModelCard(
        name="target",
        size_px=64,
        neutral_landmarks_px=np.zeros((478, 3), dtype=np.float32),
        pose_range_deg={"yaw": [-3.0, 4.0], "pitch": [-2.0, 5.0], "roll": [0.0, 1.0]},
        provenance={"consent": text, "sources": [{"name": "clip|<b>.mp4", "sha256": "ab" * 32}]},
        training={"steps": 10, "notes": text},
        metrics={"eval": {"psnr_db_face": 30.5, "frames": 26, "date": "2026-12-03T03:44:20Z"}},
        expression_range={"frames": 147, "missing": [{"state": "head_turned", "frames": 0, "advice": text}]},
    )


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def _headings(html: str) -> list[str]:
    return re.findall(r"<h[1-6]>(.*?)</h[1-6]>", html)


def test_card_page_has_the_model_card_sections_in_order() -> None:
    headings = _headings(_html(card_markdown(_card("Jane Doe, avatar for her own calls"))))
    found = [heading for heading in headings if heading in SECTIONS]
    assert found == SECTIONS, headings


def test_free_text_in_the_card_makes_no_heading_html_link_or_terminal_escape() -> None:
    markdown = card_markdown(_card(HOSTILE))
    html = _html(markdown)
    assert not [heading for heading in _headings(html) if "Fake" in heading]
    assert "<script" not in html and "<b>" not in html and "<a " not in html and "<code>alert" not in html
    assert "\x1b" not in markdown
    # Nothing is lost: the words are shown as written, the escape character as its code.
    assert html.count("## Fake section &lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    assert "\\x1b[31m" in html
    assert "clip|&lt;b&gt;.mp4" in html


def test_a_pipe_in_a_card_value_stays_in_its_table_cell() -> None:
    html = _html(card_markdown(_card("a | b | c")))
    assert "<td>a | b | c</td>" in html


def test_live_help_says_what_live_does_for_a_user() -> None:
    from live.cli import build_parser

    description = build_parser().description
    assert "webcam" in description and "avatar" in description
    assert "module" not in description and "subcommand" not in description
