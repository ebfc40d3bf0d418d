"""A wrong port: the run says so at its first failure to connect, and stops within its budget, leaving nothing.

The real CLI, with its default retry and backoff settings but ``--unreachable-after 2``, against a
port on 127.0.0.1 where nothing listens (bound, then closed). Each strategy's first request goes out
alone: a query's first key, a scan's first page, a nightly run's first full read; v3 looks its
campaign up first.

The default budget is 20 s, and the README promises the stop within 30 s: the 10 s beyond the
budget are for start-up and a connection timeout. This test holds a 2 s budget to the same 10 s
margin, with the real clock; that the default policy waits no attempt past its 20 s is proven by
tests/client/test_contact.py with a fake clock. (At the default budget this test took 20 s of a
loaded machine's suite, waiting.)
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, Finished, credentials, run_args, run_cli

pytestmark = pytest.mark.anyio
BUDGET = 2.0  # --unreachable-after
# The margin that the default promise (20 s of retries, stopped within 30 s) leaves.
WITHIN_SECONDS = BUDGET + (30.0 - 20.0)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def tree(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


CASES = {
    "query": ("classic", ["--strategy", "query"]),
    "scan": ("classic", ["--strategy", "scan"]),
    "incremental": ("classic", ["--strategy", "incremental", "--state", "{folder}/list.state",
                                "--changes", "{folder}/changes.parquet"]),
    "v3 query": ("v3", ["--strategy", "query"]),
}


async def test_a_wrong_port_warns_at_once_and_stops_within_its_budget_leaving_no_journal_or_state(
        tmp_path: Path) -> None:
    port = closed_port()
    base_url = f"http://127.0.0.1:{port}"
    before: dict[str, set[str]] = {}
    finished: dict[str, tuple[Finished, float]] = {}

    async def attempt(case: str) -> None:
        dialect, extra = CASES[case]
        folder = tmp_path / case.replace(" ", "_")
        folder.mkdir()
        before[case] = tree(folder)
        args = run_args(base_url, SAMPLES / "keys.csv", folder / "status.parquet",
                        *[arg.format(folder=folder) for arg in extra], "--unreachable-after", f"{BUDGET:g}",
                        dialect=dialect)
        started = time.monotonic()
        done = await run_cli(args, credentials(dialect))
        finished[case] = done, time.monotonic() - started

    # One after the other: with a 2 s budget a run is mostly its start-up, which side by side on a
    # loaded machine would be four processes' start-ups at once, timed as one's.
    for case in CASES:
        await attempt(case)

    cause = f"cannot connect to 127.0.0.1:{port} (connection refused)"
    for case, (done, seconds) in finished.items():
        assert done.code == 1, (case, done.stderr)
        assert seconds < WITHIN_SECONDS, (case, seconds, done.stderr)
        lines = done.stderr.splitlines()
        warned = [line for line in lines if "WARNING" in line and cause in line]
        assert len(warned) == 1 and f"retrying for up to {BUDGET:g} s before the run stops" in warned[0], \
            (case, done.stderr)
        errors = [line for line in lines if line.startswith("reconciler: error:")]
        assert len(errors) == 1 and errors[0].startswith(f"reconciler: error: {cause} after "), (case, done.stderr)
        assert "the server could not be reached; check --base-url, or rerun later" in errors[0], (case, errors)
        assert lines.index(warned[0]) < lines.index(errors[0])
        # Never reached, nothing to resume: no journal, no state, no lock, no table.
        assert tree(tmp_path / case.replace(" ", "_")) == before[case], (case, done.stderr)
