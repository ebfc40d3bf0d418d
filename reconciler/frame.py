"""The notebook face: reconcile a pandas DataFrame of keys and get the joined DataFrame back.

The frame goes through the same pipeline as a file (a Parquet file in a temporary folder), so a
notebook gets exactly the CLI's table, converted to pandas' nullable dtypes: ``boolean``,
``Int64`` and friends, ``string``, and ``datetime64[ms, UTC]`` for the timestamps.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reconciler.config import Credentials, ReconcileConfig, RequestPolicy, Target
from reconciler.errors import InputColumnMissing, InputError, KeyColumnsRequired
from reconciler.wiring.pipeline import SourceFactory, default_source, reconcile

FRAME = "<DataFrame>"  # what an error names in place of a file


def reconcile_frame(frame: pd.DataFrame, *, target: Target, credentials: Credentials,
                    key_columns: tuple[str, ...] = (), policy: RequestPolicy | None = None,
                    source_factory: SourceFactory = default_source) -> pd.DataFrame:
    """The output table for the keys in ``frame``, with pandas nullable dtypes and an aware ``lastDate``.

    Works inside a running event loop (Jupyter): the run then happens on a thread of its own.
    Key columns are compared and sent as strings; keep identifiers such as ``000123`` as ``str``.
    ``key_columns`` may be left out only for a frame of one column, which is then the key.
    """
    if not key_columns and len(frame.columns) > 1:  # checked here: the run would name a temporary file
        raise KeyColumnsRequired("DataFrame", [str(name) for name in frame.columns])
    with tempfile.TemporaryDirectory(prefix="reconciler-") as folder:
        source, output = Path(folder) / "keys.parquet", Path(folder) / "table.parquet"
        pq.write_table(_arrow(frame), source)
        config = ReconcileConfig(input_path=source, output_path=output, target=target, credentials=credentials,
                                 key_columns=key_columns, policy=policy or RequestPolicy(), fresh=True)
        try:
            _run_to_end(config, source_factory)
        except InputError as exc:
            if exc.path != source:
                raise
            raise _about_the_frame(exc, frame) from None
        table = pq.read_table(output)
    return table.to_pandas(types_mapper=_nullable)


def _about_the_frame(error: InputError, frame: pd.DataFrame) -> InputError:
    """The same error naming the DataFrame and its columns, not the temporary file the run read it from."""
    if isinstance(error, InputColumnMissing):
        return InputColumnMissing(FRAME, error.column, [str(name) for name in frame.columns], holder="the DataFrame")
    return InputError(FRAME, error.problem.replace("--key columns", "key_columns").replace("--key", "key_columns"))


def _arrow(frame: pd.DataFrame) -> pa.Table:
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    # e.g. an object column mixing text and numbers (ArrowInvalid), or two columns of one name (ValueError)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        raise InputError(FRAME, f"a column cannot be converted to a typed table ({exc})") from None


def _run_to_end(config: ReconcileConfig, source_factory: SourceFactory) -> None:
    async def main() -> None:
        await reconcile(config, source_factory=source_factory)

    if not _loop_running():
        anyio.run(main)
        return
    # A running loop (Jupyter) cannot run another in its thread: the run gets a thread of its own,
    # and this one waits for it, as a synchronous call would.
    failure: list[BaseException] = []

    def in_thread() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:  # carried back to the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=in_thread, name="reconciler-run")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_NULLABLE: dict[pa.DataType, Any] = {
    pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype(),
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(), pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(), pa.float32(): pd.Float32Dtype(), pa.float64(): pd.Float64Dtype(),
}


def _nullable(type_: pa.DataType) -> Any:
    """The pandas nullable dtype for an Arrow type; None keeps pyarrow's default (timestamps stay tz-aware)."""
    return _NULLABLE.get(type_)
