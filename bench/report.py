"""The printed table, the machine description and the JSON results file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.figures import Figure, Scenario
from bench.tools import which_nginx
from reconciler.reporting.run_report import DISTRIBUTION

LIBRARIES = (DISTRIBUTION, "aiohttp", "anyio", "tenacity", "yarl", "multidict", "pyarrow", "uvloop", "orjson",
             "requests", "py-spy")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "libraries": {name: _version(name) for name in LIBRARIES},
        "nginx": _nginx_version(),
        "reconciler_source": _source_revision(),
        "load_average_at_start": os.getloadavg(),
    }


def _source_revision() -> str | None:
    """The commit the measured reconciler/ comes from, and whether it had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "reconciler"], cwd=root,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit} with uncommitted changes in reconciler/" if changed else commit


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _nginx_version() -> str | None:
    binary = which_nginx()
    if binary is None:
        return None
    return subprocess.run([binary, "-v"], capture_output=True, text=True, check=False).stderr.strip()


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _verdict(figure: Figure) -> str:
    return "" if figure.met is None else ("met" if figure.met else "MISSED")


def table(scenarios: Iterable[Scenario]) -> str:
    """One row per figure: median, min, max, target, verdict."""
    header = ("figure", "unit", "median", "min", "max", "target", "")
    rows: list[tuple[str, ...]] = []
    for scenario in scenarios:
        rows.append((f"[{scenario.name}] {scenario.title}", "", "", "", "", "", ""))
        for f in scenario.figures:
            rows.append(("  " + f.name, f.unit, _number(f.median), _number(f.min), _number(f.max),
                         f.target.describe() if f.target else "", _verdict(f)))
    widths = [max(len(row[i]) for row in [header, *rows] if row[1] or i == 0 or row is header)
              for i in range(len(header))]
    widths[0] = min(widths[0], 72)
    lines = []
    for row in [header, *rows]:
        if row is not header and not row[1]:
            lines.append(row[0])
            continue
        lines.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def write_results(path: Path, mode: str, info: dict[str, Any], scenarios: list[Scenario],
                  failures: dict[str, str], seconds: float) -> None:
    """Write the results atomically (a ``.tmp`` beside it, then a rename)."""
    document = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "seconds": round(seconds, 1),
        "machine": {**info, "load_average_at_end": os.getloadavg()},
        "scenarios": {scenario.name: scenario.as_json() for scenario in scenarios},
        "failures": failures,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=1, default=str) + "\n", encoding="utf-8")
    temporary.replace(path)
