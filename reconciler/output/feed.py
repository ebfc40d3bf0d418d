"""The day's change feed: a rerun on the same UTC date adds to the feed that date's runs published.

A change feed file holds the changes of one run date: every run of that date, each row with its
``recon_run_id``. When a run writes ``--changes`` over a file that already holds rows of its own
date from other runs, those rows are carried into the new file ahead of its own, so that a second
run the same day never loses what the first published. Rows of the run itself (a resumed run
writing again) and rows of other dates are not carried: a file named without ``{date}`` holds the
latest date's feed. The file is still replaced atomically, so readers see one whole feed. A feed in
object storage is read from a local copy of it; a Delta feed keeps every run's rows itself (each
run's commit replaces only that run's rows).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reconciler.config import delta_table, remote_url
from reconciler.errors import InputError
from reconciler.input.stores import fetch
from reconciler.output.history import RunIdentity
from reconciler.output.publish import check_table_columns
from reconciler.output.writer import output_format_for


def check_day_feed(path: Path, schema: pa.Schema, run: RunIdentity) -> None:
    """Fail before any request when ``path`` holds rows of the run's date that the new feed could not keep."""
    if (table := delta_table(path)) is not None:
        check_table_columns(table, schema.names, [], exact=True)
        return
    with _readable(path) as local:
        if local is not None:
            _check_day_feed(local, schema, run)


def _check_day_feed(path: Path, schema: pa.Schema, run: RunIdentity) -> None:
    if not path.is_file():
        return
    found = _file_names(path)
    if found == schema.names:
        return
    if "recon_run_date" in found and any(batch.num_rows for batch in _same_day(path, None, run)):
        raise InputError(path, f"the change feed holds rows of {run.run_date} from another run, with other "
                               "columns than this run writes; move it away or name another --changes file")


def earlier_runs_of_the_day(path: Path, schema: pa.Schema, run: RunIdentity) -> Iterator[pa.RecordBatch]:
    """The rows of ``path`` that other runs of the run's date wrote, as batches of ``schema``."""
    with _readable(path) as local:
        if local is None or not local.is_file() or _file_names(local) != schema.names:
            return
        for batch in _same_day(local, schema, run):
            if batch.num_rows:
                yield batch


@contextlib.contextmanager
def _readable(path: Path) -> Iterator[Path | None]:
    """``path``, or a temporary copy of the object it names (None: there is no such object yet)."""
    if (url := remote_url(path)) is None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="reconciler-feed-") as folder:
        local = Path(folder) / path.name
        yield local if fetch(url, local) else None


def _same_day(path: Path, schema: pa.Schema | None, run: RunIdentity) -> Iterator[pa.RecordBatch]:
    for batch in _batches(path, schema):
        same_date = pc.equal(batch.column("recon_run_date").cast(pa.date32()), pa.scalar(run.run_date, pa.date32()))
        other_run = pc.not_equal(batch.column("recon_run_id"), run.run_id)
        yield batch.filter(pc.fill_null(pc.and_(same_date, other_run), False))


def _file_names(path: Path) -> list[str]:
    fmt, _ = output_format_for(path, None)
    try:
        if fmt == "parquet":
            return list(pq.read_schema(path).names)
        with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20)) as reader:
            return list(reader.schema.names)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(path, f"the existing change feed cannot be read ({exc}); move it away") from None


def _batches(path: Path, schema: pa.Schema | None) -> Iterator[pa.RecordBatch]:
    fmt, _ = output_format_for(path, None)
    try:
        if fmt == "parquet":
            yield from (batch.cast(schema) if schema is not None else batch
                        for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536))
            return
        # As the writer wrote it: typed columns, null as an empty field, "" quoted.
        convert = pacsv.ConvertOptions(
            column_types={} if schema is None else {f.name: f.type for f in schema},
            strings_can_be_null=True, quoted_strings_can_be_null=False)
        with pacsv.open_csv(path, convert_options=convert) as reader:
            yield from reader
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(path, f"the existing change feed cannot be read ({exc}); move it away") from None
