"""A run's keys take their status from the nightly state in steps, beside the asking of the keys it lacks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reconciler.journal.from_state import resolve_in_steps
from reconciler.journal.page_reads import KeyedPage
from reconciler.journal.state import State
from reconciler.journal.store import Journal
from reconciler.lookup import ChangedRecord, ListedRecord, LookupResult, LookupStatus, RecordStatus

BINDING = {"tenant": "t", "list": "L", "campaign": "C", "dialect": "classic", "key_columns": ["id"]}
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def a_state(path: Path) -> State:
    """Records 1 to 4 of the list, read whole; then a change to 4 that did not say its whole status."""
    state = State.open(path, BINDING)
    state.start_full_read()
    state.record_full_page(KeyedPage.of([(str(n), ListedRecord(index=n, entry={"id": str(n)},
                                                               record=RecordStatus(completed=False, total_attempts=n)))
                                         for n in range(1, 5)]), None, NOW)
    state.finish_full_read(NOW, 1.0)
    state.record_changes([("4", ChangedRecord(entry={"id": "4"}, record=None, changed_at=NOW))], None, NOW)
    return state


def test_the_keys_the_state_holds_exactly_are_answered_in_steps_and_the_rest_left_to_ask(tmp_path: Path) -> None:
    state = a_state(tmp_path / "s.state")
    journal = Journal.open(tmp_path / "run.journal", {"input": "keys"}, fresh=True)
    journal.add_keys(["6", "1", "4", "2", "5", "3"])
    with journal.state_attached(state.path):
        assert journal.note_unanswered_by_state() == 3
        to_ask = journal.pending_unanswered_by_state(0, 10)
        assert [key for _, key in to_ask] == ["6", "4", "5"]  # in first-seen order
        assert journal.pending_unanswered_by_state(to_ask[0][0], 1) == to_ask[1:2]

        assert resolve_in_steps(journal.path, state.path, step=2) == 3
        # The keys left are asked on the run's own connection: the copy took none of them.
        journal.record([(to_ask[0][0], LookupResult(status=LookupStatus.NOT_FOUND, attempts=1), NOW)])
        assert journal.pending_count() == 2
    with journal.state_attached(state.path):  # a rerun notes again what is left
        assert journal.note_unanswered_by_state() == 2
    answered = {row[0]: (row[1], row[4], row[13]) for row in journal.lookup(["1", "2", "3", "4", "5", "6"])}
    assert answered == {"1": ("found", 0, 1), "2": ("found", 0, 2), "3": ("found", 0, 3), "6": ("not_found", 1, None)}
    journal.close()
    state.close()


def test_a_halted_copy_leaves_the_keys_of_its_remaining_steps_pending_for_the_rerun(tmp_path: Path) -> None:
    state = a_state(tmp_path / "s.state")
    journal = Journal.open(tmp_path / "run.journal", {"input": "keys"}, fresh=True)
    journal.add_keys(["1", "2", "3"])
    checks = iter([False, True])  # a stop request arrives after the first step
    assert resolve_in_steps(journal.path, state.path, step=2, halted=lambda: next(checks)) == 2
    assert [key for _, key in journal.pending(0, 10)] == ["3"]
    assert resolve_in_steps(journal.path, state.path, step=2) == 1  # the rerun goes on
    assert journal.pending_count() == 0
    journal.close()
    state.close()
