"""How a lookup's entry and status become journal columns, the same in the keys and the listed table.

Both tables hold a record the same way, so that the scan strategy can copy a listed record into a
key's result in SQL alone, and the writer of unmatched records can read them as it reads results.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import cast

from reconciler.lookup import RECORD_FIELDS, epoch_ms, record_columns

# A lookup's columns (``RECORD_FIELDS``): defined beside ``ListedPage``, as a client reads a page into them.
record_row = record_columns
__all__ = ["ADDED_COLUMNS", "RECORD_FIELDS", "RESULT_COLUMNS", "epoch_ms", "record_row"]
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
# for every connection of the process, and changes nothing but the time. The adapter is the get of
# an empty dict, which answers None for any key, None too: a call in C, where a lambda returning its
# argument ran a Python frame a None (1.4k instructions of a listed record's 100k; the module's own lookup
# of the adapter is another 5k).
_NONE_TO_NULL: dict[object, None] = {}
sqlite3.register_adapter(type(None), cast(Callable[[None], None], _NONE_TO_NULL.get))
