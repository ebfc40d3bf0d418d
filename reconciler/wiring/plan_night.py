"""``--dry-run`` of ``--strategy incremental``: what tonight's sync would ask, by what the state says.

The state is read as the run would read it (its binding checked the same way), under its lock for
the few milliseconds the reading takes, and left as it was: an existing state in the current format
is not written to. The keys it cannot answer are counted against the plan's throw-away journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler.config import ReconcileConfig
from reconciler.input.read import InputSpec
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.stages.incremental import EPOCH, SyncPolicy, full_read_due
from reconciler.stages.strategy import scan_requests
from reconciler.wiring.pipeline import state_binding


@dataclass(frozen=True, kw_only=True)
class Night:
    """What an existing state says about tonight's sync."""

    full_read_due: str | None  # why the list would be read whole; None: its changes will do
    since: datetime  # where the changes would be asked from
    held: int  # records the state expects on the list (those without a usable key included)
    lacking: int  # distinct input keys the state cannot answer


def read_night(config: ReconcileConfig, spec: InputSpec, journal: Journal) -> Night | None:
    """What the state at ``--state`` says; None when there is none yet (a first run)."""
    path = config.state_path
    if path is None or not path.exists():
        return None
    state = State.open(path, state_binding(config, spec))
    try:
        due = full_read_due(state, SyncPolicy(full_refresh_after=timedelta(seconds=config.full_refresh_after)),
                            datetime.now(UTC))
        # As ListSync._sync_changes: the high-water mark less the overlap (or the last full read's length).
        window = max(timedelta(seconds=config.overlap), timedelta(seconds=state.catch_up_seconds()))
        since = max((state.high_water() or EPOCH) - window, EPOCH)
        held = state.record_count() + state.unkeyed_at_full_read()
    finally:
        state.close()
    with journal.state_attached(path):
        lacking = journal.note_unanswered_by_state()
    return Night(full_read_due=due, since=since, held=held, lacking=lacking)


def incremental_requests(config: ReconcileConfig, night: Night | None,
                         size: int | None) -> tuple[str, int | None, bool]:
    """What an incremental run would ask, in words; the request count when known; whether it is a floor."""
    by_cursor = config.target.dialect == "v3"
    read, changes = ("getAllRecords", "getUpdatedRecords and getCompletedRecords") if by_cursor else \
        ("getAll", "getChanged and getCompleted")
    page_size = config.policy.page_size
    count = scan_requests(size, page_size=page_size) if size is not None else None
    pages = f"{count:,} {read} pages" if count is not None else f"one {read} page per {page_size:,} records"
    if night is None:
        return (f"a full read of the list ({pages}): a first run, the state {config.state_path} does not exist yet",
                count, False)
    # As the run judges a full read's cost: by the records the state holds.
    full = scan_requests(night.held, page_size=page_size)
    if night.full_read_due is not None:
        if size is None:  # offline, or v3 with --instance-id: the state's records say how long the list was
            pages, count = f"about {full:,} {read} pages for the {night.held:,} records the state holds", full
        return f"a full read of the list ({pages}): {night.full_read_due}", count, False
    asked = f"{changes} pages from {night.since:%Y-%m-%d %H:%M:%S} UTC (the state's high-water mark less " \
            f"--overlap), one per {page_size:,} changed records"
    keys = f"{night.lacking:,} key{'' if night.lacking == 1 else 's'} the state does not hold"
    if night.lacking >= full:
        return (f"{asked}; then a full read of the list ({full:,} {read} pages), cheaper than asking the {keys} "
                "one by one", 2 + full, True)
    text = f"{asked}; then one Query a record for each of the {keys} (a full read would take {full:,} pages)"
    if by_cursor and size is not None and size != night.held:
        text += (f"; Get Campaign's totalRecords ({size:,}) is not the {night.held:,} records the state holds: "
                 "unless tonight's changes make up the difference, the list is then read whole")
    return text, 2 + night.lacking, True
