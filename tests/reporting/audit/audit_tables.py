"""A run's output table built in memory, for the audit tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

DISPOSITIONS = ["Sale", "Not interested", "No answer", "Busy", None]


def build_table(rows: int) -> pa.Table:
    """A run's output table with a spread of statuses, dispositions, days, agents and attempts."""
    status = ["found" if i % 10 < 7 else ("not_found" if i % 10 < 9 else ("invalid_input" if i % 20 == 9 else "error"))
              for i in range(rows)]
    found = [s == "found" for s in status]
    attempts = [(i * 7) % 6 if f else None for i, f in enumerate(found)]
    pairs = list(enumerate(zip(found, attempts, strict=True)))
    completed = [bool(f and a and i % 3 == 0) if f else None for i, (f, a) in pairs]
    disposition = [DISPOSITIONS[i % 5] if f and a else None for i, (f, a) in pairs]
    agent = [f"agent{(i // 2) % 29:02d}" if f and a and i % 2 == 0 else None for i, (f, a)
             in enumerate(zip(found, attempts, strict=True))]
    last_date = [datetime(2026, 12, 1 + i % 4, 10, 0, tzinfo=UTC) if f and a else None
                 for i, (f, a) in enumerate(zip(found, attempts, strict=True))]
    return pa.table({
        "account_id": [f"A{i:05d}" for i in range(rows)],
        "completed": pa.array(completed, pa.bool_()), "lastDisposition": pa.array(disposition, pa.string()),
        "lastDate": pa.array(last_date, pa.timestamp("ms", tz="UTC")), "lastAgent": pa.array(agent, pa.string()),
        "totalAttempts": pa.array(attempts, pa.int64()), "recon_status": status,
        "recon_checked_at": pa.array([datetime(2026, 12, 5, 2, 15, tzinfo=UTC)] * rows, pa.timestamp("ms", tz="UTC")),
        "recon_run_id": ["20261205T021500Z-3f9a1c"] * rows,
    })


def with_many_dispositions(table: pa.Table, kinds: int) -> pa.Table:
    """``table`` with its dispositions spread over ``kinds`` names (``Outcome 000``, ...): long tables."""
    spread = [None if value is None else f"Outcome {i % kinds:03d}"
              for i, value in enumerate(table.column("lastDisposition").to_pylist())]
    return table.set_column(table.schema.get_field_index("lastDisposition"), "lastDisposition",
                            pa.array(spread, pa.string()))
