"""The audit page in a real browser: Chromium renders it, the screenshot is not blank, the headline is there."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from reconciler.cli import main
from reporting.audit.audit_tables import build_table

CHROMIUM = Path("/usr/bin/chromium")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install Debian's chromium (.ci/run does) for the browser test")
        pytest.skip("no /usr/bin/chromium here: apt-get install chromium to run the browser test")
    return subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000",
                           *args], capture_output=True, text=True, timeout=90, check=True)


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
