"""The audit page printed to PDF by Chromium: table headers repeat on every page, and no header or
heading is left alone at a page's foot. Each printed page is read back with pdftotext."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq

from reconciler.cli import main
from reporting.audit.audit_tables import build_table, with_many_dispositions
from reporting.audit.browser import print_pages

HEADERS = {"step records of found input rows", "disposition records share", "agent records completed"}
HEADINGS = re.compile(r"^(Completion funnel|Dispositions|completed records:|records not completed:|"
                      r"Attempts per record|Last attempt dates|Agents|Never attempted)")
ROW = re.compile(r"^(Outcome \d{3}|\(none\)|agent\d\d|\d+ other agents|on the list \(found\)|attempted|"
                 r"reached an agent|completed|positive disposition) [\d,]+( |$)")


def _write_page(tmp_path: Path, kinds: int) -> Path:
    pq.write_table(with_many_dispositions(build_table(3000), kinds), tmp_path / "status.parquet")
    page = tmp_path / "audit.html"
    assert main(["report", str(tmp_path / "status.parquet"), "--html", str(page), "--key", "account_id"]) == 0
    return page


def _faults(pages: list[list[str]]) -> list[str]:
    """Each printed page whose table rows come before any header on it, or that ends on a header or heading."""
    faults = []
    for number, lines in enumerate(pages, start=1):
        first_row = next((i for i, line in enumerate(lines) if ROW.match(line)), None)
        first_header = next((i for i, line in enumerate(lines) if line in HEADERS), None)
        if first_row is not None and (first_header is None or first_header > first_row):
            faults.append(f"page {number} starts with rows, no header: {lines[first_row]!r}")
        if lines[-1] in HEADERS or HEADINGS.match(lines[-1]):
            faults.append(f"page {number} ends on {lines[-1]!r}")
    return faults


def test_a_table_over_several_printed_pages_repeats_its_header_on_each(tmp_path: Path) -> None:
    page = _write_page(tmp_path, 140)
    pages = print_pages(tmp_path, page)
    with_rows = [lines for lines in pages if any(ROW.match(line) for line in lines)]
    continued = [lines for lines in with_rows if lines[0] in HEADERS]  # a table going on from the page before
    assert len(continued) >= 2, "the dispositions should span pages, or this test proves nothing"
    assert _faults(pages) == []
    printed = sum(bool(ROW.match(line)) and line.startswith(("Outcome", "(none)")) for lines in pages for line in lines)
    assert printed == page.read_text().count("data-disposition=")  # every row printed, none twice


def test_no_header_or_heading_is_left_alone_at_a_page_foot_wherever_a_table_starts(tmp_path: Path) -> None:
    # The page's own stylesheet and its own heading and table of records not completed, inside a section
    # longer than a page (as on the page: a section that fits is kept whole, one that does not starts
    # a page), each copy pushed down by a spacer 8 px taller than the last (a row is about 20 px): the
    # copies' headings and headers cross a page's foot at every offset, on Letter and A4 paper alike.
    page = _write_page(tmp_path, 140).read_text()
    style = re.search(r"<style>.*?</style>", page, re.S)
    section = re.search(r"<h3>records not completed.*?</table>", page, re.S)
    assert style and section
    part = re.sub(r"<svg.*?</svg>", "", section.group(0), flags=re.S)  # the heading straight above its table
    assert part.count("<tr>") > 60  # longer than a page
    copies = "".join(f'<section id="dispositions" style="break-before:page"><div style="height:{height}px;'
                     f'display:flex;align-items:flex-end">spacer {height}</div>{part}</section>'
                     for height in range(760, 1080, 8))
    sweep = tmp_path / "sweep.html"
    sweep.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8">{style.group(0)}</head>'
                     f"<body>{copies}</body></html>", encoding="utf-8")
    pages = print_pages(tmp_path, sweep)
    assert _faults(pages) == []
    alone = [lines for lines in pages if lines[0].startswith("spacer") and len(lines) == 1]
    together = [lines for lines in pages if lines[0].startswith("spacer") and any(ROW.match(x) for x in lines)]
    # Both kinds of page: the sweep crossed the foot, where the heading and header went on to the next page.
    assert alone and together
