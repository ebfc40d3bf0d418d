"""`make demo`: start the bundled simulator, reconcile the sample keys through it, show the result.

Everything runs on 127.0.0.1 with real digest authentication; the simulator is stopped at the end,
whatever happens. The run uses a faster rate than the gentle default so that it takes seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "out"
SIMULATOR_FLAGS = ["--records", str(HERE / "records.csv"), "--list", "records.csv", "--campaign", "Campaign_1",
                   "--key-fields", "account_id", "--fail-503", "0.02", "--latency", "5", "--jitter", "5",
                   "--seed", "7"]


@contextmanager
def simulator() -> Iterator[str]:
    """A running simulator on a free port; yields its base URL and stops it on the way out."""
    with tempfile.TemporaryDirectory() as folder:
        port_file = Path(folder) / "port"
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "simulate", *SIMULATOR_FLAGS, "--port", "0",
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


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with simulator() as base_url:
        codes = [reconcile(base_url, HERE / "keys.csv", OUT / "keys-status.parquet",
                           "--unmatched", str(OUT / "unmatched.csv")),
                 reconcile(base_url, HERE / "keys.parquet", OUT / "keys-status.csv", "--strategy", "query")]
    show(OUT / "keys-status.parquet")
    print(f"\nExit codes: {codes} (0: every row resolved). Tables in {OUT}/")
    return max(codes)


if __name__ == "__main__":
    raise SystemExit(main())
