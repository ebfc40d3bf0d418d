"""Markdown tables from a results file, for ``docs/BENCHMARKS.md``: ``python -m bench.markdown [RESULTS]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.__main__ import LATEST


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "**missed**")


def scenario_table(scenario: dict[str, Any]) -> str:
    lines = ["| figure | unit | median | min | max | target | |", "|---|---|--:|--:|--:|---|---|"]
    for figure in scenario["figures"]:
        lines.append(f"| {figure['name']} | {figure['unit']} | {_number(figure['median'])} | {_number(figure['min'])} "
                     f"| {_number(figure['max'])} | {figure['target'] or ''} | {_verdict(figure['met'])} |")
    return "\n".join(lines)


def machine_table(machine: dict[str, Any]) -> str:
    libraries = ", ".join(f"{name} {version}" for name, version in machine["libraries"].items() if version)
    rows = [("cores (nproc)", machine["nproc"]), ("CPU", machine["cpu"]), ("memory", f"{machine['memory_gib']} GiB"),
            ("OS", machine["os"]), ("Python", machine["python"]), ("libraries", libraries),
            ("nginx", machine["nginx"]), ("reconciler source", machine.get("reconciler_source")),
            ("load average (1 min) at start / end", f"{machine['load_average_at_start'][0]:.2f} / "
                                                    f"{machine['load_average_at_end'][0]:.2f}")]
    return "\n".join(["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])


def main(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    print(f"Generated {document['generated']}, mode {document['mode']}, {document['seconds']:.0f} s\n")
    print(machine_table(document["machine"]))
    for name, scenario in document["scenarios"].items():
        print(f"\n### {name}: {scenario['title']}\n\nServer: {scenario['server']}. Setup: "
              + ", ".join(f"{key} {value}" for key, value in scenario["setup"].items()) + "\n")
        print(scenario_table(scenario))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else LATEST)
