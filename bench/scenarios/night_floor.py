"""Night floor: night 2 of a list read whole each night (input = list), beside a pyarrow floor, in one run.

Each of the plan's ``night_floor_sizes`` (1M; ``--full`` adds 10M) is a calling list
(``nightly.write_month_of_records``); the input asks for every one of them. Night 1 (``--strategy
incremental``, at an unlimited rate) reads the list whole into the state: its CPU a record is the full
read's. A full scan at an unlimited rate gives the scan's. Then the campaign moves on (1 % of the
records get a call attempt, a tenth of those complete) and night 2 runs at the default 20/s. Night 2 is
set against the least that such a night costs: its requests at the rate, plus the floor, a pyarrow
script (in a fresh interpreter, start-up included) that reads the keys and writes a table as big as the
night's. Every ratio is within this one run. Night 2 is then run again under py-spy, on a copy of the
state as it was before night 2.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.figures import Figure, Scenario, Target
from bench.measure import ROOT, environment
from bench.plan import Plan
from bench.profile import profile_job
from bench.scenarios.common import spec
from bench.scenarios.nightly import (
    CONCURRENCY,
    DEFAULT_RATE,
    move_campaign_on,
    run_reconciler,
    write_input,
    write_month_of_records,
)
from bench.servers import simulator_server

NAME = "night_floor"
TITLE = ("Night floor: night 2 over a list asked whole (1M records; --full adds 10M), against requests at 20/s "
         "plus a pyarrow floor")
NEEDS_NGINX = False
# Reads the keys, and writes a table of the night's rows and columns: the night's own table, whose
# reading it prints so that it is left out (the floor is "the keys in, the table out").
FLOOR_SCRIPT = """
import sys, time
import pyarrow.parquet as pq
keys, night, out = sys.argv[1:4]
started = time.perf_counter()
table = pq.read_table(night)
print(time.perf_counter() - started)
pq.read_table(keys)
pq.write_table(table, out)
"""
WATCH = (
    "reconciler/stages/load_keys.py:load_keys",
    "reconciler/journal/store.py:Journal.add_keys",
    "reconciler/journal/from_state.py:resolve_in_steps",
    "reconciler/journal/store.py:Journal.note_unanswered_by_state",
    "reconciler/output/write.py:write_output",
    "reconciler/output/join.py:Journal.lookup",
    "reconciler/journal/store.py:Journal.lookup",
    "reconciler/journal/reported.py:StagedReport.stage",
    "reconciler/journal/state.py:NightlyState.close",
)


def floor_seconds(keys: Path, night_table: Path, workdir: Path) -> float:
    """Wall seconds of the floor script, interpreter start-up included (the table it copies read first)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FLOOR_SCRIPT, str(keys), str(night_table),
                           str(workdir / "floor.parquet")], cwd=ROOT, check=True, env=environment(),
                          capture_output=True, text=True)
    return time.perf_counter() - started - float(done.stdout.strip())


def copy_state(state: Path, to: Path) -> Path:
    for suffix in ("", "-wal"):
        source = state.with_name(state.name + suffix)
        if source.exists():
            shutil.copyfile(source, to.with_name(to.name + suffix))
    return to


def run(plan: Plan, workdir: Path) -> Scenario:
    sizes = plan.night_floor_sizes
    listed: int | list[int] = sizes[0] if len(sizes) == 1 else list(sizes)
    scenario = Scenario(NAME, TITLE, "", {
        "list_records": listed, "input_keys": listed, "changed_records": "1 % of the list",
        "completed_of_those": "a tenth of those", "rate": DEFAULT_RATE, "concurrency": CONCURRENCY,
        "floor": "python -c FLOOR_SCRIPT: read the key Parquet file, write night 2's table (start-up included)"})
    scenario.details = {}
    for size in sizes:
        # One size keeps the figures' names of earlier results; several name their size.
        label = "" if len(sizes) == 1 else f" [{size // 1_000_000}M]" if size >= 1_000_000 else f" [{size:,}]"
        folder = workdir / f"records-{size}"
        folder.mkdir()
        server_description, figures, details = _night_floor(size, folder, label)
        scenario.server = server_description
        scenario.figures.extend(figures)
        scenario.details[str(size)] = details
    if len(sizes) == 1:
        scenario.details = scenario.details[str(sizes[0])]
    return scenario


def _night_floor(size: int, workdir: Path, label: str) -> tuple[str, list[Figure], dict[str, object]]:
    records = write_month_of_records(workdir / "records.csv", size)
    keys = write_input(workdir / "keys.parquet", [f"{i:09d}" for i in range(size)])
    state = workdir / "list.state"
    changed = size // 100
    with simulator_server(records) as server:
        first = run_reconciler(server, keys, workdir, "night-1", strategy="incremental", state=str(state), rate="inf")
        scan = run_reconciler(server, keys, workdir, "scan", strategy="scan", rate="inf")
        did = move_campaign_on(server, attempts=changed, complete=changed // 10, add=0)
        before = copy_state(state, workdir / "before-night-2.state")
        second = run_reconciler(server, keys, workdir, "night-2", strategy="incremental", state=str(state))
        floor = floor_seconds(keys, workdir / "night-2" / "out.parquet", workdir)
        profiled = profile_job({**spec("reconciler", server, keys, workdir / "night-2-profiled",
                                       concurrency=CONCURRENCY, auth=True, rate=DEFAULT_RATE),
                                "strategy": "incremental", "state": str(before)}, top=25, watch=WATCH)
    at_rate = second["server_requests"] / DEFAULT_RATE
    figures = [
        Figure(f"night 2 wall / (requests at 20/s + floor){label}", "x", [second["seconds"] / (at_rate + floor)],
               Target(high=2.0)),
        Figure(f"night 2: wall time{label}", "s", [second["seconds"]]),
        Figure(f"night 2: CPU time{label}", "s", [second["cpu_seconds"]]),
        Figure(f"night 2: server requests{label}", "requests", [float(second["server_requests"])]),
        Figure(f"night 2: requests at 20/s{label}", "s", [at_rate]),
        Figure(f"floor: pyarrow keys in, table out{label}", "s", [floor]),
        Figure(f"night 2: local work a key ((wall - requests at 20/s) / keys){label}", "us",
               [(second["seconds"] - at_rate) / size * 1e6]),
        Figure(f"night 1 (full read, rate inf): CPU a record{label}", "us", [first["cpu_seconds"] / size * 1e6],
               Target(high=10.0)),
        Figure(f"full scan (rate inf): CPU a record{label}", "us", [scan["cpu_seconds"] / size * 1e6],
               Target(high=10.0)),
        Figure(f"night 1 (full read, rate inf): wall time{label}", "s", [first["seconds"]]),
        # The memory bound: 1 GB with 10M keys and a 10M-record state.
        Figure(f"night 2: peak RSS{label}", "MB", [second["peak_rss_mb"]], Target(high=1024.0)),
        Figure(f"night 1: peak RSS{label}", "MB", [first["peak_rss_mb"]], Target(high=1024.0)),
    ]
    details = {"list_records": size, "changed_records": changed, "runs": {"night_1": first, "scan": scan,
                                                                          "night_2": second},
               "activity": {k: v for k, v in did.items() if k != "added"}, "night_2_profile": profiled}
    return server.description, figures, details
