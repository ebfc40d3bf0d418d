"""Where a path points: a local file, an object in a store (s3://, gs://, az://) or a Delta table (delta:)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config import Credentials, ReconcileConfig, Target, delta_table, remote_url, shown
from reconciler.errors import InvalidOption


@pytest.mark.parametrize(("written", "url", "table", "display"), [
    ("s3://bucket/status/run_date={date}/status.parquet", "s3://bucket/status/run_date={date}/status.parquet",
     None, "s3://bucket/status/run_date={date}/status.parquet"),
    ("gs://bucket/keys.csv", "gs://bucket/keys.csv", None, "gs://bucket/keys.csv"),
    ("az://container/keys.csv", "az://container/keys.csv", None, "az://container/keys.csv"),
    ("delta:/srv/recon/status", None, Path("/srv/recon/status"), "delta:/srv/recon/status"),
    ("delta:///srv/recon/status", None, Path("/srv/recon/status"), "delta:/srv/recon/status"),
    ("delta:s3://bucket/status", None, Path("s3://bucket/status"), "delta:s3://bucket/status"),
    ("out/status.parquet", None, None, "out/status.parquet"),
    ("/data/s3/keys.csv", None, None, "/data/s3/keys.csv"),
])
def test_a_path_names_a_file_an_object_or_a_delta_table(written: str, url: str | None, table: Path | None,
                                                         display: str) -> None:
    path = Path(written)
    assert remote_url(path) == url
    assert delta_table(path) == table
    assert shown(path) == display


def config(output: str, **extra: object) -> ReconcileConfig:
    return ReconcileConfig(input_path=Path("keys.csv"), output_path=Path(output),
                           credentials=Credentials(login="u", secret="s"),
                           target=Target(base_url="http://127.0.0.1", tenant="t", list_name="l", campaign="c"),
                           **extra)  # type: ignore[arg-type]


def test_the_journal_of_a_remote_output_is_local_and_named_after_the_url() -> None:
    assert config("s3://bucket/status/run_date={date}/status.parquet").journal == Path(
        ".s3-bucket-status-run_date=-status.parquet.reconciler-journal")
    assert config("delta:/srv/recon/status").journal == Path("/srv/recon/status.reconciler-journal")
    assert config("s3://bucket/x.parquet", journal_path=Path("/var/recon/x.journal")).journal == Path(
        "/var/recon/x.journal")


@pytest.mark.parametrize(("option", "extra"), [
    ("--state", {"state_path": Path("s3://bucket/list.state"), "strategy": "incremental"}),
    ("--journal", {"journal_path": Path("s3://bucket/run.journal")}),
    ("--unmatched", {"unmatched_path": Path("delta:/srv/unmatched"), "strategy": "scan"}),
    ("--changes", {"changes_path": Path("delta:/srv/changes/{date}"), "previous_path": Path("old.parquet")}),
])
def test_state_and_journal_stay_local_and_unmatched_is_no_delta_table(option: str, extra: dict[str, object]) -> None:
    with pytest.raises(InvalidOption, match=f"^{option}: "):
        config("s3://bucket/status.parquet", **extra)


def test_the_core_install_imports_neither_deltalake_nor_moto() -> None:
    code = ("import sys, reconciler, reconciler.cli, reconciler.wiring.pipeline, reconciler.output.write; "
            "print(sorted(m for m in ('deltalake', 'moto', 'polars', 'fsspec') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
