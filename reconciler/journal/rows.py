"""How a lookup's entry and status become journal columns, the same in the keys and the listed table.

Both tables hold a record the same way, so that the scan strategy can copy a listed record into a
key's result in SQL alone, and the writer of unmatched records can read them as it reads results.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from reconciler.lookup import RecordStatus

RECORD_FIELDS = ("entry", "completed", "last_disposition", "last_date", "last_phone", "last_call_duration",
                 "last_agent", "total_attempts", "global_interaction_id", "completed_time", "extra", "warnings")
# Columns added since the first journal format, with their types: an older journal gains them when opened.
ADDED_COLUMNS = (("global_interaction_id", "TEXT"), ("completed_time", "INTEGER"), ("source", "TEXT"))

# The result columns of the keys table, in the order ``Journal.lookup`` returns them (after the key text).
RESULT_COLUMNS = ("status", "http_status", "error", "attempts", "checked_at", "entry", "completed",
                  "last_disposition", "last_date", "last_phone", "last_call_duration", "last_agent",
                  "total_attempts", "global_interaction_id", "completed_time", "extra", "source")
# A row of the journal binds several NULLs. The sqlite3 module binds int, float, str and bytearray
# directly, but asks any other value's type, None's too, for an adapter: missing, that costs two
# attribute lookups that each format an AttributeError's message, about 0.3 µs a None (a fifth of
# storing a listed record). With None's adapter registered, None is found at once and still binds
# as NULL (the adapter returns it unchanged); the module's adapters are per process, so this holds
# for every connection of the process, and changes nothing but the time.
sqlite3.register_adapter(type(None), lambda value: value)
# json.dumps(..., ensure_ascii=False) builds a new encoder on every call; the same encoder, made once.
_ENCODER = json.JSONEncoder(ensure_ascii=False)
# Its encode() still makes the C encoder anew on every call (half its time for an entry): the C
# encoder it makes, made once, with the same settings. Without a circular check, which a mapping of
# texts cannot need. The plain encode() where the C encoder is missing.


def _c_encoder() -> Any:
    # An internal of CPython's json module: taken only where it is there and writes what encode() writes.
    try:
        encoder = c_make_encoder(None, _ENCODER.default, encode_basestring, None, _ENCODER.key_separator,
                                 _ENCODER.item_separator, False, False, True)
        probe = {"a": "é\u2028\"", "b": None}
        return encoder if "".join(encoder(probe, 0)) == _ENCODER.encode(probe) else None
    except Exception:  # any failure of an internal means: the public encode()
        return None


_C_ENCODER = _c_encoder()


def _to_json(values: Mapping[str, str | None]) -> str:
    """``values`` (a mapping of texts) as ``json.dumps(values, ensure_ascii=False)`` writes it."""
    if _C_ENCODER is None:
        return _ENCODER.encode(values)
    return "".join(_C_ENCODER(values if type(values) is dict else dict(values), 0))


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def record_row(entry: Mapping[str, str | None] | None, record: RecordStatus | None) -> tuple[Any, ...]:
    """The journal's columns for an entry and a status (``RECORD_FIELDS``, in order)."""
    return (
        _to_json(entry) if entry is not None else None,
        None if record is None or record.completed is None else int(record.completed),
        record.last_disposition if record else None,
        epoch_ms(record.last_date) if record and record.last_date else None,
        record.last_phone if record else None,
        record.last_call_duration if record else None,
        record.last_agent if record else None,
        record.total_attempts if record else None,
        record.global_interaction_id if record else None,
        epoch_ms(record.completed_time) if record and record.completed_time else None,
        _to_json(record.extra) if record and record.extra else None,
        len(record.warnings) if record else 0,
    )
