"""`make demo`: start the bundled simulator, reconcile the sample keys through it, show the result.

Everything runs on 127.0.0.1 with real digest authentication; the simulator is stopped at the end,
whatever happens. The run uses a faster rate than the gentle default so that it takes seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "out"
SIMULATOR_FLAGS = ["--records", str(HERE / "records.csv"), "--list", "records.csv", "--campaign", "Campaign_1",
                   "--key-fields", "account_id", "--fail-503", "0.02", "--latency", "5", "--jitter", "5",
                   "--seed", "7"]


# A second tenant for the fleet run: the sample list served twice, in a campaign of its own (v2 dialect).
SECOND_TENANT_FLAGS = ["--tenant", "second.brightpattern.com", "--records", str(HERE / "records.csv"), "--list",
                       "List_East.csv", "--records", str(HERE / "records.csv"), "--list", "List_West.csv",
                       "--campaign", "Outbound_Q4", "--key-fields", "account_id", "--latency", "5", "--seed", "8"]
FLEET = """\
parallel = 3

[defaults]
key = ["account_id"]
input = "{keys}"
output = "{out}/{{tenant}}/{{campaign}}/{{list}}/status.parquet"
strategy = "scan"

[[tenants]]
tenant = "demo.brightpattern.com"
base_url = "{first}"
login_env = "DEMO_USER"
secret_env = "DEMO_PASSWORD"
rate = 300
discover = true
states = ["RUNNING"]

[[tenants]]
tenant = "second.brightpattern.com"
base_url = "{second}"
dialect = "v2"
login_env = "SECOND_CLIENT_ID"
secret_env = "SECOND_CLIENT_SECRET"
rate = 300
discover = true
"""


@contextmanager
def simulator(flags: list[str] = SIMULATOR_FLAGS) -> Iterator[str]:
    """A running simulator on a free port; yields its base URL and stops it on the way out."""
    with tempfile.TemporaryDirectory() as folder:
        port_file = Path(folder) / "port"
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "simulate", *flags, "--port", "0",
             "--port-file", str(port_file)], stdout=subprocess.DEVNULL)
        try:
            yield f"http://127.0.0.1:{_wait_for_port(port_file, process)}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for_port(port_file: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return int(port_file.read_text())
        if process.poll() is not None:
            raise SystemExit(f"demo: the simulator exited with code {process.returncode}")
        time.sleep(0.05)
    raise SystemExit("demo: the simulator did not start within 30 s")


def reconcile(base_url: str, keys: Path, output: Path, *extra: str) -> int:
    command = [sys.executable, "-m", "reconciler", "run", str(keys), "--output", str(output),
               "--base-url", base_url, "--tenant", "demo.brightpattern.com", "--list", "records.csv",
               "--campaign", "Campaign_1", "--key", "account_id", "--rate", "300", "--concurrency", "16", *extra]
    print(f"\n$ reconciler run {keys.relative_to(HERE.parent)} --output {output.relative_to(HERE.parent)} "
          f"--base-url {base_url} ... {' '.join(extra)}", flush=True)
    environment = {**os.environ, "BP_USERNAME": "demo", "BP_PASSWORD": "demo-password"}
    return subprocess.run(command, env=environment, check=False).returncode


def show(output: Path) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(output).to_pandas(types_mapper=pd.ArrowDtype)
    columns = ["account_id", "crm_owner", "firstName", "completed", "lastDisposition", "lastDate",
               "totalAttempts", "recon_status"]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"\nFirst rows of {output.relative_to(HERE.parent)} ({len(table):,} rows, "
              f"{len(table.columns)} columns):")
        print(table[[c for c in columns if c in table.columns]].head(8).to_string(index=False))


def requests_seen(base_url: str, *, reset: bool = False) -> str:
    """What the simulator answered (``/__stats``), by endpoint; ``reset`` starts the count again."""
    with urllib.request.urlopen(f"{base_url}/__stats", timeout=10) as answer:
        counters = json.load(answer)
    if reset:
        urllib.request.urlopen(urllib.request.Request(f"{base_url}/__stats/reset", method="POST"), timeout=10).close()
    by_endpoint = ", ".join(f"{count:,} {name}" for name, count in counters["by_endpoint"].items() if count)
    return f"{counters['requests_total']:,} ({by_endpoint or 'none'})"


def move_campaign_on(base_url: str) -> None:
    """A day of calling on the simulator: attempts, completions, records added and deleted."""
    command = [sys.executable, "-m", "reconciler", "simulate", "activity", "--url", base_url, "--list", "records.csv",
               "--campaign", "Campaign_1", "--attempts", "120", "--complete", "25", "--add", "4", "--delete", "2",
               "--seed", "11"]
    print("\n$ reconciler simulate activity --url ... --attempts 120 --complete 25 --add 4 --delete 2", flush=True)
    subprocess.run(command, check=True)


def two_nights(base_url: str) -> list[int]:
    """The nightly job twice: a full first read into the state, then only what changed, with its change feed.

    Status tables, change feeds and reports live under roots of their own, so that each root reads
    as one table (``pandas.read_parquet(root)``, DuckDB's ``hive_partitioning``).
    """
    state, nightly = OUT / "nightly.state", OUT / "nightly"
    state.unlink(missing_ok=True)
    shutil.rmtree(nightly, ignore_errors=True)  # the demo shows two nights of history, not every demo's
    (nightly / "reports").mkdir(parents=True)
    (nightly / "status").mkdir()
    (nightly / "changes").mkdir()
    options = ["--strategy", "incremental", "--state", str(state),
               "--changes", str(nightly / "changes" / "run_date={date}" / "changes.parquet")]
    requests_seen(base_url, reset=True)
    first = reconcile(base_url, HERE / "keys.csv", nightly / "status" / "run={run_id}" / "status.parquet", *options,
                      "--report", str(nightly / "reports" / "night-1.json"))
    first_requests = requests_seen(base_url, reset=True)
    move_campaign_on(base_url)
    requests_seen(base_url, reset=True)
    second = reconcile(base_url, HERE / "keys.csv", nightly / "status" / "run={run_id}" / "status.parquet", *options,
                       "--report", str(nightly / "reports" / "night-2.json"))
    second_requests = requests_seen(base_url)
    print(f"\nRequests: night 1 (full read) {first_requests}; night 2 (changes, and keys the state lacks) "
          f"{second_requests}")
    return [first, second]


def show_changes(nightly: Path) -> None:
    import pandas as pd

    second_run = json.loads((nightly / "reports" / "night-2.json").read_text(encoding="utf-8"))["figures"]["run_id"]
    feed = pd.read_parquet(nightly / "changes")  # the day's feed: every run of the date, each row with its run
    changes = feed[feed["recon_run_id"] == second_run]
    print(f"\nNight 2's change feed ({len(changes):,} rows), by change_type:")
    print(changes["change_type"].value_counts().to_string())
    history = pd.read_parquet(nightly / "status", columns=["account_id", "recon_run_id"])
    print(f"History in {(nightly / 'status').relative_to(HERE.parent)}/: {len(history):,} status rows over "
          f"{history['recon_run_id'].nunique()} runs (pandas.read_parquet of the folder); "
          f"change feeds in {(nightly / 'changes').relative_to(HERE.parent)}/: {len(feed):,} rows")


def fleet(first: str, second: str) -> int:
    """Every list of every running campaign of two tenants, in one process: ``reconciler fleet``."""
    folder = OUT / "fleet"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    fleet_file = folder / "fleet.toml"
    fleet_file.write_text(FLEET.format(keys=HERE / "keys.csv", out=folder, first=first, second=second),
                          encoding="utf-8")
    print(f"\n$ reconciler fleet {fleet_file.relative_to(HERE.parent)} --report "
          f"{(folder / 'report.json').relative_to(HERE.parent)}", flush=True)
    environment = {**os.environ, "DEMO_USER": "demo", "DEMO_PASSWORD": "demo-password",
                   "SECOND_CLIENT_ID": "demo-client", "SECOND_CLIENT_SECRET": "demo-secret"}
    command = [sys.executable, "-m", "reconciler", "fleet", str(fleet_file), "--report", str(folder / "report.json"),
               "--ledger", str(folder / "fleet.ledger")]
    return subprocess.run(command, env=environment, check=False).returncode


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with simulator() as base_url:
        codes = [reconcile(base_url, HERE / "keys.csv", OUT / "keys-status.parquet",
                           "--unmatched", str(OUT / "unmatched.csv"), "--audit", str(OUT / "audit.html")),
                 reconcile(base_url, HERE / "keys.parquet", OUT / "keys-status.csv", "--strategy", "query")]
        codes += two_nights(base_url)
        with simulator(SECOND_TENANT_FLAGS) as second_url:
            codes.append(fleet(base_url, second_url))
    show(OUT / "keys-status.parquet")
    show_changes(OUT / "nightly")
    print(f"\nCampaign audit page of the first run: {OUT / 'audit.html'}")
    print(f"\nExit codes: {codes} (0: every row resolved; the last, the fleet's: every target complete). "
          f"Tables in {OUT}/")
    return max(codes)


if __name__ == "__main__":
    raise SystemExit(main())
