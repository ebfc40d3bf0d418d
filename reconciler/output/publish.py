"""Publish a whole, locally staged table to object storage or a Delta table, in one step a reader sees whole.

- **An object** (``s3://``, ``gs://``, ``az://``) is uploaded from the whole local file in one PUT
  or multipart upload; the store shows it under its name only when the upload completes, so a
  reader sees the previous object or the new one. A run killed mid-upload leaves no object (the
  store keeps an incomplete multipart upload's parts until a lifecycle rule aborts them).
- **A Delta table** (``delta:PATH``, ``delta:s3://...``; ``pip install
  'brightpattern-reconciler[delta]'``) gets the staged Parquet file streamed into one Delta commit,
  partitioned by ``recon_run_date``, that replaces the rows ``replacing`` selects (a status table:
  the run's date; a change feed: the run's own rows): a reader of any version sees a night whole or
  not at all, and a rerun never duplicates rows. Time travel: ``DeltaTable(path, version=N)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from reconciler.config import DELTA_PREFIX, remote_url, shown
from reconciler.errors import InputError, PublishFailed
from reconciler.input.stores import check_bucket, open_store

PARTITION = "recon_run_date"
DELTA_EXTRA = "pip install 'brightpattern-reconciler[delta]'"


def upload(local: Path, url: str) -> None:
    """``local`` to ``url`` in one upload that becomes visible only when complete."""
    store, path = open_store(url)
    try:
        with local.open("rb") as source, store.open_output_stream(path) as sink:
            while chunk := source.read(8 << 20):
                sink.write(chunk)
    except OSError as exc:
        raise PublishFailed(url, f"the table could not be uploaded ({_first_line(exc)})") from None


def deltalake() -> Any:
    """The ``deltalake`` module, or a one-line error naming the extra that installs it."""
    try:
        import deltalake
    except ImportError:
        raise InputError("delta:", f"writing a Delta table needs the deltalake package: {DELTA_EXTRA}") from None
    return deltalake


def storage_options(table: Path) -> dict[str, str] | None:
    """What the Delta writer needs beside the environment it reads itself (AWS_*, GOOGLE_*, AZURE_*)."""
    if remote_url(table) is None:
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    return {"AWS_ALLOW_HTTP": "true"} if endpoint.startswith("http://") else {}


def location(table: Path) -> str:
    """The table's location as the Delta writer takes it: an object URL or a local folder."""
    return remote_url(table) or str(table)


def table_columns(table: Path) -> list[str] | None:
    """The columns of the Delta table at ``table``, or None when there is none yet."""
    module = deltalake()
    where = location(table)
    if remote_url(table) is not None:
        check_bucket(where, "the Delta table", an_object=False)
    elif not (table / "_delta_log").is_dir():
        if table.exists() and (not table.is_dir() or any(table.iterdir())):
            raise InputError(_named(table), "exists and is not a Delta table (no _delta_log); name another folder")
        if not table.parent.is_dir():
            raise InputError(_named(table), f"the folder {table.parent} does not exist; create it or choose another")
        return None
    try:
        found = module.DeltaTable(where, storage_options=storage_options(table))
        return [field.name for field in found.schema().fields]
    except module.exceptions.TableNotFoundError:
        return None
    except Exception as exc:  # deltalake's errors share no base but Exception: translated here, once
        raise InputError(_named(table), f"the Delta table cannot be read ({_first_line(exc)})") from None


def commit_delta(staged: Path, table: Path, replacing: str) -> None:
    """The rows of the staged Parquet file into ``table`` as one commit replacing the rows ``replacing`` selects."""
    module = deltalake()
    parquet = pq.ParquetFile(staged)
    reader = pa.RecordBatchReader.from_batches(parquet.schema_arrow, parquet.iter_batches(batch_size=65_536))
    try:
        module.write_deltalake(location(table), reader, mode="overwrite", predicate=replacing,
                               partition_by=[PARTITION], schema_mode="merge",
                               storage_options=storage_options(table))
    except Exception as exc:  # deltalake's errors share no base but Exception: translated here, once
        raise PublishFailed(_named(table), f"the Delta table refused the run's rows ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_table_columns(table: Path, leading: list[str], required: list[str], *, exact: bool) -> None:
    """Fail before any request when an existing Delta table has other columns than this run writes.

    A status table must start with this run's input columns and hold every status and ``recon_*``
    column; the entry columns between vary with what the list shows, and a new one is added to the
    table (at its end) by the commit. A change feed has no entry columns: its columns must be these.
    """
    found = table_columns(table)
    if found is None:
        return
    wanted = leading + required
    if found[:len(leading)] != leading or not set(required) <= set(found) or (exact and found != wanted):
        missing = [name for name in wanted if name not in found]
        other = [name for name in found if name not in wanted]
        detail = "; ".join(part for part in (f"lacks {_few(missing)}" if missing else "",
                                             f"has {_few(other)}" if other and exact else "") if part)
        raise InputError(_named(table), f"the Delta table has other columns than this run writes "
                                       f"({detail or 'in another order'}); name another table")


def _named(table: Path) -> str:
    return DELTA_PREFIX + shown(table)


def _few(names: list[str]) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
