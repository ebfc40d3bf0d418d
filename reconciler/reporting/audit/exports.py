"""The rows an operator acts on, as CSV files beside the page: never attempted, not found, unmatched."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from reconciler.errors import InputError
from reconciler.reporting.audit.tables import batches

NEVER_ATTEMPTED = "never-attempted.csv"
NOT_FOUND = "not-found.csv"
UNMATCHED = "unmatched.csv"


def _never_attempted(batch: pa.RecordBatch) -> pa.Array:
    attempts = pc.fill_null(batch.column("totalAttempts").cast(pa.int64()), 0)
    return pc.and_(pc.equal(batch.column("recon_status"), "found"), pc.equal(attempts, 0))


def _not_found(batch: pa.RecordBatch) -> pa.Array:
    return pc.equal(batch.column("recon_status"), "not_found")


def write_exports(directory: Path, table: Path, unmatched: Path | None) -> dict[str, Path]:
    """Write the export files into ``directory`` (each through a temporary file); name -> path written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(directory, f"cannot create the exports folder: {exc.strerror or exc}") from None
    written = {NEVER_ATTEMPTED: _write(directory / NEVER_ATTEMPTED, table, _never_attempted),
               NOT_FOUND: _write(directory / NOT_FOUND, table, _not_found)}
    if unmatched is not None:
        written[UNMATCHED] = _write(directory / UNMATCHED, unmatched, None)
    return written


def _write(target: Path, source: Path, keep: object) -> Path:
    temporary = target.with_name(f".{target.name}.partial")
    writer: pacsv.CSVWriter | None = None
    try:
        for batch in batches(source):
            chosen = batch.filter(keep(batch)) if callable(keep) else batch
            if writer is None:
                writer = pacsv.CSVWriter(temporary, chosen.schema)
            writer.write_batch(chosen)
        if writer is None:  # a source without rows still gets its header-less empty file
            temporary.write_text("")
        else:
            writer.close()
        temporary.replace(target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(target, f"cannot write the export: {exc.strerror or exc}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target
