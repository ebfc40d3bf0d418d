"""Key files and calling lists for the benchmarks, generated (vectorised) into a temporary folder.

Keys are 9-digit account ids, ``000000000`` upwards. A file of ``rows`` rows over ``distinct``
keys repeats key ``i % distinct`` on row ``i``, so duplicates are spread through the whole file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bench.servers import KEY_COLUMN

_CHUNK = 1_000_000
_SEGMENTS = pa.array(["gold", "silver", "bronze", "prospect"])


def key_strings(start: int, stop: int, distinct: int) -> pa.Array:
    numbers = pa.array(np.arange(start, stop, dtype=np.int64) % distinct)
    return pc.utf8_lpad(numbers.cast(pa.string()), width=9, padding="0")


def _key_batch(start: int, stop: int, distinct: int) -> pa.RecordBatch:
    keys = key_strings(start, stop, distinct)
    segment = pc.take(_SEGMENTS, pa.array(np.arange(start, stop) % len(_SEGMENTS)))
    return pa.record_batch([keys, segment], names=[KEY_COLUMN, "segment"])


def write_keys(path: Path, rows: int, distinct: int | None = None) -> Path:
    """``rows`` key rows (with a passthrough ``segment`` column) as Parquet or CSV, by the file name."""
    distinct = distinct or rows
    schema = pa.schema([(KEY_COLUMN, pa.string()), ("segment", pa.string())])
    if path.suffix == ".parquet":
        with pq.ParquetWriter(path, schema) as writer:
            for start in range(0, rows, _CHUNK):
                writer.write_batch(_key_batch(start, min(start + _CHUNK, rows), distinct))
    else:
        with pacsv.CSVWriter(path, schema) as writer:
            for start in range(0, rows, _CHUNK):
                writer.write_batch(_key_batch(start, min(start + _CHUNK, rows), distinct))
    return path


def read_keys(path: Path) -> list[str]:
    """The key column of a Parquet key file, in order (duplicates kept)."""
    return [str(key) for key in pq.read_table(path, columns=[KEY_COLUMN]).column(KEY_COLUMN).to_pylist()]


def write_records(path: Path, count: int) -> Path:
    """A calling list of ``count`` records (keys ``0..count-1``) for the simulator, as CSV."""
    keys = key_strings(0, count, count)
    numbers = np.arange(count)
    columns = {
        KEY_COLUMN: keys,
        "firstName": pa.array(np.where(numbers % 2 == 0, "Anna", "Mike")),
        "lastName": pa.array(np.where(numbers % 3 == 0, "Miller", "Smith, Jr.")),
        "phone": pc.binary_join_element_wise("1650555", pc.utf8_slice_codeunits(keys, 5), ""),
        "status.completed": pa.array(np.where(numbers % 4 == 0, "true", "false")),
        "status.lastDisposition": pa.array(np.where(numbers % 4 == 0, "Sale", "No answer")),
        "status.lastDate": pa.array(["2021-02-01T20:54:07.000"] * count),
        "status.totalAttempts": pa.array((numbers % 7).astype(str)),
    }
    pacsv.write_csv(pa.table(columns), path)
    return path
