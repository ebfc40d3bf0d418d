"""The README and the public face stay true to the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import reconciler
from reconciler.wiring.settings import OPTIONS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_run_flag_is_documented_in_the_readme() -> None:
    missing = [option.flag for option in OPTIONS if f"`{option.flag}" not in README]
    assert missing == []


def test_every_exit_code_the_code_uses_is_in_the_readme() -> None:
    table = README.split("## Exit codes", 1)[1].split("##", 1)[0]
    for code in ("0", "1", "2", "3", "130 / 143"):
        assert re.search(rf"^\| {re.escape(code)} \|", table, re.MULTILINE), code


def test_the_public_names_exist_and_nothing_else_is_promised() -> None:
    for name in reconciler.__all__:
        assert hasattr(reconciler, name), name
    assert {"reconcile", "run", "reconcile_frame", "ReconcileConfig", "RunStats"} <= set(reconciler.__all__)


def test_the_quick_start_is_the_two_make_targets_and_they_exist() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in quick_start
        assert re.search(rf"^{target}:", makefile, re.MULTILINE)


def test_the_layout_section_names_every_room_and_only_modules_that_exist() -> None:
    section = README.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    package = ROOT / "reconciler"
    rooms = sorted(path.name for path in package.iterdir() if (path / "__init__.py").exists())
    tree: dict[str, str] = {}
    for line in section.splitlines():
        if "──" in line:
            name = line.split("──", 1)[1].split()[0]
            tree[name] = line
        elif line.startswith("│") and tree:  # a room's description goes on below it
            tree[name] += line
    assert sorted(name.rstrip("/") for name in tree if name.endswith("/")) == rooms
    for name, line in tree.items():
        folder = package / name.rstrip("/") if name.endswith("/") else package
        for module in re.findall(r"\b(\w+\.py)\b", line):
            assert any(folder.rglob(module)) or (package / module).exists(), f"{name}: {module}"


def test_the_command_starts_without_pandas_which_only_the_dataframe_face_needs() -> None:
    # A nightly cron pays the import on every run; pandas alone is about half of it.
    probe = ("import sys, reconciler, reconciler.cli; loaded = 'pandas' in sys.modules; "
             "from reconciler import reconcile_frame; print(loaded, reconcile_frame.__module__)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "reconciler.frame"]
