"""Two nightly runs on one UTC date, over real HTTP: the second never loses a change the first published."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli

pytestmark = pytest.mark.anyio


async def test_a_second_run_the_same_day_adds_its_changes_to_the_days_feed(
        tmp_path: Path, simulator: SimulatorFactory) -> None:
    (tmp_path / "changes").mkdir()
    feed_template = str(tmp_path / "changes" / "run_date={date}" / "changes.parquet")
    report = tmp_path / "report.json"

    async def night(name: str, base_url: str) -> dict[str, object]:
        args = run_args(base_url, SAMPLES / "keys.csv", tmp_path / f"{name}.parquet", "--rate", "inf",
                        "--strategy", "incremental", "--state", str(tmp_path / "list.state"),
                        "--changes", feed_template, "--report", str(report))
        done = await run_cli(args, credentials())
        assert done.code == 0, done.stderr
        figures = json.loads(report.read_text(encoding="utf-8"))["figures"]
        assert isinstance(figures, dict)
        return figures

    async with simulator() as sim:
        await night("first-ever", sim.base_url)
        sim.move_on(attempts=300, complete=40, seed=11)
        morning = await night("morning", sim.base_url)
        feed = next((tmp_path / "changes").glob("run_date=*/changes.parquet"))
        published = pq.read_table(feed)
        sim.move_on(attempts=200, complete=30, seed=12)
        evening = await night("evening", sim.base_url)

    assert morning["run_date"] == evening["run_date"], "both runs must fall on one UTC date"
    day = pq.read_table(feed)
    by_run = day.group_by("recon_run_id").aggregate([("account_id", "count")]).to_pylist()
    counts = {row["recon_run_id"]: row["account_id_count"] for row in by_run}
    first_ever_rows = published.num_rows - morning["changes"]["rows"]  # type: ignore[index]
    assert counts[morning["run_id"]] == morning["changes"]["rows"] > 0  # type: ignore[index]
    assert counts[evening["run_id"]] == evening["changes"]["rows"] > 0  # type: ignore[index]
    assert evening["changes"]["earlier_runs_rows"] == published.num_rows  # type: ignore[index]
    # The morning's rows are in the evening's file exactly as the morning published them, first.
    assert day.slice(0, published.num_rows).equals(published)
    assert day.num_rows == published.num_rows + evening["changes"]["rows"]  # type: ignore[index]
    assert first_ever_rows >= 0
