"""Nightly: what an incremental run costs beside a full scan and a full query run, in one run of the bench.

A calling list of ``nightly_records`` records whose last attempts are spread over the past month;
the input asks for a tenth of them. The first incremental run reads the list whole into the state;
then the simulator's campaign moves on (1 % of the records get a call attempt, a tenth of those
complete, a few records join the list and the input); the second incremental run asks only what
changed. The full scan runs at the default rate (20/s) like the incremental runs; the full query
run's requests are counted at an unlimited rate (at 20/s it would take hours), and its time at the
default rate is that count over the rate.
"""

from __future__ import annotations

import json
import math
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bench.data import key_strings
from bench.figures import Figure, Scenario, Target
from bench.measure import run_job
from bench.plan import Plan
from bench.scenarios.common import spec
from bench.servers import CAMPAIGN, KEY_COLUMN, LIST_NAME, Server, simulator_server

NAME = "nightly"
TITLE = "Nightly: an incremental run after 1 % of the list changed, beside a full scan and a full query"
NEEDS_NGINX = False
DEFAULT_RATE = 20.0
CONCURRENCY = 8
NEW_KEYS = 10
FEW = 5  # requests beyond one page per 1,000 changes and one per new key: pages' ends, getCompleted


def write_month_of_records(path: Path, count: int) -> Path:
    """A list whose records were last dialled at times spread over 30 days (a tenth never called)."""
    keys = key_strings(0, count, count)
    numbers = np.arange(count)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    times = [(start + timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%S.000")
             for s in (numbers * 2_592_000 // max(count, 1))]
    called = numbers % 10 != 0
    columns = {
        KEY_COLUMN: keys,
        "firstName": pa.array(np.where(numbers % 2 == 0, "Anna", "Mike")),
        "phone": pc.binary_join_element_wise("1650555", pc.utf8_slice_codeunits(keys, 5), ""),
        "status.completed": pa.array(np.where(numbers % 9 == 0, "true", "false")),
        "status.lastDisposition": pa.array(np.where(called, "No answer", "")),
        "status.lastDate": pa.array(np.where(called, times, "")),
        "status.lastPhone": pa.array(np.where(called, "16505550000", "")),
        "status.lastCallDuration": pa.array(np.where(called, "0", "")),
        "status.totalAttempts": pa.array(np.where(called, (numbers % 7 + 1).astype(str), "0")),
    }
    pacsv.write_csv(pa.table(columns), path)
    return path


def write_input(path: Path, keys: list[str]) -> Path:
    pq.write_table(pa.table({KEY_COLUMN: pa.array(keys, pa.string())}), path)
    return path


def move_campaign_on(server: Server, *, attempts: int, complete: int, add: int) -> dict[str, Any]:
    """One day of calling on the simulator (``POST /__activity``); returns what it did."""
    body = json.dumps({"list": LIST_NAME, "campaign": CAMPAIGN, "attempts": attempts, "complete": complete,
                       "add": add, "delete": 0, "seed": 20261205}).encode()
    request = urllib.request.Request(f"{server.base_url}/__activity", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as answer:
        return dict(json.load(answer))


def run_reconciler(server: Server, keys: Path, workdir: Path, name: str, **options: Any) -> dict[str, Any]:
    """One measured reconciler run against ``server`` (digest auth, the default rate), with its server requests."""
    server.reset_stats()
    job = spec("reconciler", server, keys, workdir / name, concurrency=CONCURRENCY, auth=True,
               rate=options.pop("rate", DEFAULT_RATE))
    result = run_job({**job, **options})
    result["server_requests"] = int(server.stats()["requests_total"])
    return result


def run(plan: Plan, workdir: Path) -> Scenario:
    size = plan.nightly_records
    records = write_month_of_records(workdir / "records.csv", size)
    asked = [f"{i:09d}" for i in range(0, size, 10)]  # as bench.data.key_strings writes them
    keys = write_input(workdir / "keys.parquet", asked)
    state = workdir / "list.state"
    with simulator_server(records) as server:
        first = run_reconciler(server, keys, workdir, "night-1", strategy="incremental", state=str(state))
        scan = run_reconciler(server, keys, workdir, "scan", strategy="scan")
        query = run_reconciler(server, keys, workdir, "query", strategy="query", rate="inf")
        changed = size // 100
        did = move_campaign_on(server, attempts=changed, complete=changed // 10, add=NEW_KEYS)
        new_keys = [str(key[KEY_COLUMN]) for key in did["added"]][:NEW_KEYS]
        keys_tonight = write_input(workdir / "keys-tonight.parquet", asked + new_keys)
        second = run_reconciler(server, keys_tonight, workdir, "night-2", strategy="incremental", state=str(state))
    budget = math.ceil(changed / 1000) + len(new_keys) + FEW
    scenario = Scenario(NAME, TITLE, server.description, {
        "list_records": size, "input_keys": len(asked), "changed_records": changed,
        "completed_of_those": changed // 10, "new_keys": len(new_keys), "rate": DEFAULT_RATE,
        "concurrency": CONCURRENCY, "request_budget": f"ceil({changed}/1000) + {len(new_keys)} + {FEW} = {budget}"})
    scenario.figures = [
        Figure("incremental night 2: server requests", "requests", [float(second["server_requests"])],
               Target(high=budget)),
        Figure("full scan: server requests", "requests", [float(scan["server_requests"])]),
        Figure("full query: server requests", "requests", [float(query["server_requests"])]),
        Figure("full scan wall time / incremental night 2's, both at 20/s", "x",
               [scan["seconds"] / second["seconds"]], Target(low=20.0)),
        Figure("full query time at 20/s (requests / rate) / incremental night 2's", "x",
               [query["server_requests"] / DEFAULT_RATE / second["seconds"]]),
        Figure("incremental night 2: wall time", "s", [second["seconds"]]),
        Figure("full scan: wall time at 20/s", "s", [scan["seconds"]]),
        Figure("incremental night 1 (full read): wall time at 20/s", "s", [first["seconds"]]),
    ]
    scenario.details = {"runs": {"night_1": first, "scan": scan, "query": query, "night_2": second},
                        "activity": {k: v for k, v in did.items() if k != "added"}}
    return scenario
