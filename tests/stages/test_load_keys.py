"""The first pass: keys into the journal, with progress counted as the input streams by."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fakes import config


@pytest.mark.parametrize(("name", "unit"), [("keys.csv", "bytes"), ("keys.csv.gz", "bytes"), ("keys.parquet", "rows")])
def test_reading_keys_reports_progress_without_reading_the_input_twice(tmp_path: Path, name: str, unit: str) -> None:
    from reconciler.input.read import BadRows
    from reconciler.journal.store import Journal
    from reconciler.reporting.progress import Progress
    from reconciler.stages.load_keys import load_keys
    from reconciler.wiring.pipeline import binding, prepare

    text = "account_id\n" + "".join(f"{i:07d}\n" for i in range(200_000))
    path = tmp_path / name
    if name.endswith(".parquet"):
        pq.write_table(pa.table({"account_id": text.split()[1:]}), path)
    else:
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    cfg = config(tmp_path, input_name=name)
    spec = prepare(cfg)
    progress = Progress()
    progress.start_phase("reading keys", total=spec.total_bytes if unit == "bytes" else spec.total_rows, unit=unit)
    journal = Journal.open(cfg.journal, binding(cfg, spec), fresh=True)
    try:
        load_keys(journal, spec, BadRows(skip=False), progress)
    finally:
        journal.discard()
    assert progress.total and progress.done == progress.total  # the whole file, counted as it streamed by
