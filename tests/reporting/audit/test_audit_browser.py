"""The audit page in a real browser: Chromium renders it, the screenshot is not blank, the headline is there."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from reconciler.cli import main
from reporting.audit.audit_tables import build_table
from reporting.audit.browser import chromium as _chromium


def test_chromium_renders_the_page_with_its_headline_figures(tmp_path: Path) -> None:
    pq.write_table(build_table(1234), tmp_path / "status.parquet")
    page = tmp_path / "audit.html"
    assert main(["report", str(tmp_path / "status.parquet"), "--html", str(page)]) == 0
    url = page.resolve().as_uri()
    dom = _chromium(tmp_path, "--dump-dom", url).stdout
    assert "Campaign audit" in dom and ">1,234<" in dom  # rows, as the headline shows them
    shot = tmp_path / "page.png"
    _chromium(tmp_path, f"--screenshot={shot}", url)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 0.05  # a blank (all white) page has none
    assert (pixels[..., :3].mean(axis=2) < 0.5).mean() > 0.005  # some dark text and bars were drawn
