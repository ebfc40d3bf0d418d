"""What a run leaves on disk: nothing when it failed before asking the server, and never a lock file."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli

pytestmark = pytest.mark.anyio
SAMPLE_KEYS = (SAMPLES / "keys.csv").read_text(encoding="utf-8")


def tree(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def templated(tmp_path: Path, base_url: str, keys: Path, *extra: str) -> list[str]:
    return run_args(base_url, keys, tmp_path / "status" / "run_date={date}" / "status.parquet", "--rate", "inf",
                    "--changes", str(tmp_path / "changes" / "run_date={date}" / "changes.parquet"), *extra)


@pytest.mark.parametrize(("case", "extra", "message"), [
    ("no such key column", ["--key", "nosuch"], "key column 'nosuch' is not in the file"),
    ("a ragged row deep in the file", ["--strategy", "query"], "line 1502"),
    ("a dry run", ["--dry-run", "--offline"], None),
])
async def test_a_run_that_never_asked_the_server_leaves_nothing_behind(
        tmp_path: Path, simulator: SimulatorFactory, case: str, extra: list[str], message: str | None) -> None:
    keys = tmp_path / "keys.csv"
    lines = SAMPLE_KEYS.splitlines(keepends=True)
    if case == "a ragged row deep in the file":
        lines.insert(1501, "1,2,3,4,5,6,7\n")
    keys.write_text("".join(lines), encoding="utf-8")
    for root in ("status", "changes"):
        (tmp_path / root).mkdir()
    before = tree(tmp_path)
    async with simulator() as sim:
        args = templated(tmp_path, sim.base_url, keys, "--state", str(tmp_path / "list.state"), *extra)
        done = await run_cli(args, credentials())
        asked = sim.stats()["requests_total"]

    assert asked == 0
    if message is None:
        assert done.code == 0, done.stderr
    else:
        assert done.code == 2 and message in done.stderr, done.stderr
    assert tree(tmp_path) == before  # no partition folder, journal, state or lock file


async def test_a_run_that_ends_leaves_no_lock_file_whether_it_succeeded_or_not(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    for root in ("status", "changes"):
        (tmp_path / root).mkdir()
    async with simulator() as sim:
        args = templated(tmp_path, sim.base_url, SAMPLES / "keys.csv", "--strategy", "incremental",
                         "--state", str(tmp_path / "list.state"))
        succeeded = await run_cli(args, credentials())
        after_success = tree(tmp_path)
        refused = await run_cli(args, credentials(password="wrong"))
        left = tree(tmp_path)
        again = await run_cli(args, credentials())

    assert succeeded.code == 0, succeeded.stderr
    assert refused.code == 3, refused.stderr
    assert "list.state" in after_success
    assert not [name for name in after_success if name.endswith(".lock")], after_success
    assert not [name for name in left if name.endswith(".lock")], left
    # Refused at its first request, the run had no answer worth resuming from: no journal is left.
    assert not [name for name in left if "reconciler-journal" in name], left
    assert again.code == 0, again.stderr
