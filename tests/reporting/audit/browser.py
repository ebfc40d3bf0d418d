"""Debian's Chromium (and poppler's pdftotext) for the audit page's browser and print tests.

Missing locally, a test is skipped with the package to install; missing in CI (CI=true), it fails:
.ci/run installs both, so a CI without them is broken, not excused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def _require(present: bool, what: str, package: str) -> None:
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must install Debian's {package} (.ci/run does) for the audit page's {what} test")
    pytest.skip(f"no {what} here: apt-get install {package} to run this test")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a throwaway profile, nothing fetched, nothing synced."""
    _require(CHROMIUM.exists(), "/usr/bin/chromium", "chromium")
    return subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000",
                           *args], capture_output=True, text=True, timeout=90, check=True)


def print_pages(tmp_path: Path, page: Path) -> list[list[str]]:
    """``page`` printed to PDF by Chromium (its default paper, no header or footer), read back with
    pdftotext: one list of non-empty, whitespace-normalised lines a printed page."""
    pdf = tmp_path / f"{page.stem}.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.resolve().as_uri())
    pdftotext = shutil.which("pdftotext")
    _require(pdftotext is not None, "pdftotext", "poppler-utils")
    assert pdftotext is not None
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60,
                          check=True).stdout
    pages = [[" ".join(line.split()) for line in sheet.splitlines() if line.strip()] for sheet in text.split("\f")]
    return [lines for lines in pages if lines]
