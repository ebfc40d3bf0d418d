"""Inputs and outputs in object storage (``s3://``) through the real CLI, against an S3-compatible server.

The test starts moto's S3 server on 127.0.0.1 (a free port) and stops it; the command finds it
through ``AWS_ENDPOINT_URL`` and takes made-up credentials from the environment, as in production.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli, started_cli, wait_until
from moto.server import ThreadedMotoServer

from reconciler.simulator import FaultConfig

pytestmark = pytest.mark.anyio
SECRET = "s3-Secret-distinctive-5521"


class Store:
    def __init__(self, endpoint: str) -> None:
        self.environment = {"AWS_ACCESS_KEY_ID": "reconciler-test", "AWS_SECRET_ACCESS_KEY": SECRET,
                            "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1"}
        self.fs = pafs.S3FileSystem(access_key="reconciler-test", secret_key=SECRET, region="us-east-1",
                                    endpoint_override=endpoint, allow_bucket_creation=True,
                                    allow_bucket_deletion=True)

    def put(self, key: str, local: Path) -> None:
        with self.fs.open_output_stream(key) as sink:
            sink.write(local.read_bytes())

    def read(self, key: str) -> pa.Table:
        with self.fs.open_input_file(key) as source:
            data = source.read()
        return pq.read_table(io.BytesIO(data)) if key.endswith(".parquet") else pacsv.read_csv(
            io.BytesIO(data), convert_options=pacsv.ConvertOptions(strings_can_be_null=True,
                                                                   column_types={"account_id": pa.string()}))

    def keys(self, bucket: str) -> list[str]:
        return sorted(info.path for info in self.fs.get_file_info(pafs.FileSelector(bucket, recursive=True))
                      if info.type == pafs.FileType.File)


@pytest.fixture
def store() -> Iterator[Store]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = Store(f"http://{host}:{port}")
        s3.fs.create_dir("recon-in")
        s3.fs.create_dir("recon-out")
        s3.put("recon-in/keys.csv", SAMPLES / "keys.csv")
        s3.put("recon-in/keys.parquet", SAMPLES / "keys.parquet")
        yield s3
    finally:
        server.stop()


def staged_tables(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir() if path.name.endswith(".partial")]


def environment(store: Store) -> dict[str, str]:
    return {**credentials(), **store.environment}


async def test_input_and_outputs_in_s3_read_back_whole(tmp_path: Path, simulator: SimulatorFactory,
                                                       store: Store) -> None:
    async with simulator() as sim:
        parquet_out = await run_cli(run_args(
            sim.base_url, Path("s3://recon-in/keys.csv"), Path("s3://recon-out/status/run_date={date}/status.parquet"),
            "--rate", "inf", "--strategy", "incremental", "--state", str(tmp_path / "list.state"),
            "--changes", "s3://recon-out/changes/run_date={date}/changes.csv",
            "--journal", str(tmp_path / "one.journal"), "--report", str(tmp_path / "report.json")),
            environment(store))
        csv_out = await run_cli(run_args(
            sim.base_url, Path("s3://recon-in/keys.parquet"), Path("s3://recon-out/status.csv"), "--rate", "inf",
            "--journal", str(tmp_path / "two.journal")), environment(store))

    assert parquet_out.code == 0, parquet_out.stderr
    assert csv_out.code == 0, csv_out.stderr
    written = store.keys("recon-out")
    [status_key] = [key for key in written if key.startswith("recon-out/status/run_date=")]
    assert status_key.endswith("/status.parquet") and len(written) == 3, written
    status = store.read(status_key)
    assert status.num_rows == 2002 and "038672" in status.column("account_id").to_pylist()
    assert set(status.column("recon_status").to_pylist()) == {"found", "not_found", "invalid_input"}
    feed_key = next(key for key in written if key.startswith("recon-out/changes/run_date="))
    assert store.read(feed_key).num_rows > 0  # the first night: every found row is new
    assert store.read("recon-out/status.csv").num_rows == 500
    assert "output              s3://recon-out/status/run_date=" in parquet_out.stderr
    assert '"output": "s3://recon-out/status/run_date=' in (tmp_path / "report.json").read_text()
    assert SECRET not in parquet_out.stderr + (tmp_path / "report.json").read_text()
    assert not (tmp_path / "one.journal").exists(), "a whole run removes its journal"


async def test_a_missing_bucket_is_one_line_before_any_request(tmp_path: Path, simulator: SimulatorFactory,
                                                               store: Store) -> None:
    async with simulator() as sim:
        done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", Path("s3://no-such-bucket/status.parquet"),
                                      "--journal", str(tmp_path / "run.journal")), environment(store))
        asked = sim.stats()["requests_total"]
        missing_input = await run_cli(run_args(sim.base_url, Path("s3://recon-in/nothing.csv"),
                                               tmp_path / "out.parquet"), environment(store))

    assert done.code == 2 and asked == 0
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == ["reconciler: error: s3://no-such-bucket/status.parquet: the output: the bucket "
                      "'no-such-bucket' does not exist (or these credentials cannot see it); create it or name "
                      "another"]
    assert not (tmp_path / "run.journal").exists()
    assert missing_input.code == 2 and "s3://recon-in/nothing.csv: the input: no such object" in missing_input.stderr
    assert not (tmp_path / "out.parquet").exists()


async def test_a_run_whose_upload_fails_leaves_no_object_and_its_rerun_writes_it(
        tmp_path: Path, simulator: SimulatorFactory, store: Store) -> None:
    journal = tmp_path / "run.journal"
    store.fs.create_dir("recon-gone")
    args_for = lambda url: run_args(url, SAMPLES / "keys.parquet", Path("s3://recon-gone/status.parquet"),  # noqa: E731
                                    "--strategy", "query", "--rate", "100", "--journal", str(journal))
    async with simulator(faults=FaultConfig(latency_ms=5.0)) as sim:
        async with started_cli(args_for(sim.base_url), environment(store), tmp_path / "logs") as cli:
            await wait_until(lambda: sim.stats()["requests_total"] > 20, within=30, what="the run to be querying")
            store.fs.delete_dir("recon-gone")  # the bucket goes while the run asks: the upload must fail
            failed = await cli.finish(60)
        assert failed.code == 1, failed.stderr
        assert "the table could not be uploaded" in failed.stderr and "rerun the same command" in failed.stderr
        assert journal.exists(), "the answers are kept for the rerun"
        assert staged_tables(tmp_path) == [], "no staged table left behind"
        store.fs.create_dir("recon-gone")
        assert store.keys("recon-gone") == []
        sim.reset_stats()
        rerun = await run_cli(args_for(sim.base_url), environment(store))
        asked_again = sim.stats()["requests_total"]

    assert rerun.code == 0, rerun.stderr
    assert asked_again == 0, "the rerun wrote the table from its journal"
    assert store.keys("recon-gone") == ["recon-gone/status.parquet"]
    assert store.read("recon-gone/status.parquet").num_rows == 500


async def test_a_delta_table_in_s3_gets_one_commit_per_run(tmp_path: Path, simulator: SimulatorFactory,
                                                           store: Store) -> None:
    import deltalake

    async with simulator() as sim:
        for name in ("one", "two"):
            done = await run_cli(run_args(sim.base_url, Path("s3://recon-in/keys.csv"),
                                          Path("delta:s3://recon-out/tables/status"), "--rate", "inf",
                                          "--journal", str(tmp_path / f"{name}.journal")), environment(store))
            assert done.code == 0, done.stderr
            assert "output              delta:s3://recon-out/tables/status" in done.stderr

    options = {"AWS_ENDPOINT_URL": store.environment["AWS_ENDPOINT_URL"], "AWS_ALLOW_HTTP": "true",
               "AWS_ACCESS_KEY_ID": "reconciler-test", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1"}
    table = deltalake.DeltaTable("s3://recon-out/tables/status", storage_options=options)
    assert table.version() == 1
    rows = table.to_pyarrow_table()
    assert rows.num_rows == 2002 and len(set(rows.column("recon_run_id").to_pylist())) == 1
