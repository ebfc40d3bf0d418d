"""The journal's life: bound to its inputs, one run at a time, kept after error rows for --retry-errors only."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import WHEN

from reconciler.journal.lock import JournalBusy
from reconciler.journal.store import Journal, JournalMismatch
from reconciler.lookup import LookupResult, LookupStatus

BOUND = {"input": "keys.csv", "list": "List_1.txt"}


def finished_with_one_error(path: Path) -> None:
    """A run that wrote its table with key "b" in error, and kept its journal."""
    journal = Journal.open(path, BOUND, fresh=False)
    journal.add_keys(["a", "b"])
    journal.finish_loading({"rows": 2})
    (a, _), (b, _) = journal.pending(0, 10)
    journal.record([(a, LookupResult(status=LookupStatus.FOUND, attempts=1), WHEN),
                    (b, LookupResult(status=LookupStatus.ERROR, attempts=8), WHEN)])
    journal.keep_for_retry()


def test_retry_errors_reopens_a_kept_journal_and_requeues_only_its_error_keys(tmp_path: Path) -> None:
    finished_with_one_error(tmp_path / "j")
    journal = Journal.open(tmp_path / "j", BOUND, fresh=False, retry_errors=True)
    try:
        assert journal.keys_loaded and not journal.finished
        assert journal.requeue_errors() == 1
        assert journal.pending(0, 10)[0][1] == "b"
    finally:
        journal.close()


def test_without_retry_errors_a_kept_journal_is_started_afresh(tmp_path: Path) -> None:
    finished_with_one_error(tmp_path / "j")
    journal = Journal.open(tmp_path / "j", BOUND, fresh=False)
    try:
        assert not journal.keys_loaded and journal.distinct_keys() == 0
    finally:
        journal.close()


def test_a_kept_journal_of_other_inputs_is_started_afresh_even_with_retry_errors(tmp_path: Path) -> None:
    # A nightly job with retry_errors in its configuration meets last night's journal and a new input.
    finished_with_one_error(tmp_path / "j")
    journal = Journal.open(tmp_path / "j", {**BOUND, "input": "tonight.csv"}, fresh=False, retry_errors=True)
    try:
        assert journal.distinct_keys() == 0
    finally:
        journal.close()


def test_an_unfinished_journal_of_other_inputs_is_refused_naming_the_difference(tmp_path: Path) -> None:
    Journal.open(tmp_path / "j", BOUND, fresh=False).close()  # as a crashed run left it
    with pytest.raises(JournalMismatch, match=r"list: was 'List_1\.txt', now 'List_2\.txt'.*--fresh"):
        Journal.open(tmp_path / "j", {**BOUND, "list": "List_2.txt"}, fresh=False, retry_errors=True)
    Journal.open(tmp_path / "j", {**BOUND, "list": "List_2.txt"}, fresh=True).close()


def test_a_second_run_on_the_same_journal_is_refused_while_a_fresh_run_holds_it(tmp_path: Path) -> None:
    first = Journal.open(tmp_path / "j", BOUND, fresh=True)  # --fresh must not delete the lock file it holds
    try:
        with pytest.raises(JournalBusy):
            Journal.open(tmp_path / "j", BOUND, fresh=False)
    finally:
        first.close()


@pytest.mark.parametrize("odd", ['quote " and back\\slash', "tab\there", "é😀\u2028", "nul\x00inside", "\\u0000"])
def test_every_key_text_is_stored_and_looked_up_exactly_in_first_seen_order(tmp_path: Path, odd: str) -> None:
    journal = Journal.open(tmp_path / "j", BOUND, fresh=False)
    try:
        journal.add_keys(["z", odd, "a", odd])
        journal.add_keys([odd, "b"])
        assert [key for _, key in journal.pending(0, 10)] == ["z", odd, "a", "b"]
        journal.record([(key_id, LookupResult(status=LookupStatus.FOUND, attempts=1), WHEN)
                        for key_id, _ in journal.pending(0, 10)])
        assert sorted(row[0] for row in journal.lookup([odd, "a", "missing"])) == sorted([odd, "a"])
    finally:
        journal.close()


def test_every_entry_field_name_is_remembered_whatever_shapes_the_answers_repeat(tmp_path: Path) -> None:
    # Field names are looked at once per shape of entry (its names in order): a repeated shape must
    # not hide a new name, nor a reordering or a new case of one the journal already holds.
    journal = Journal.open(tmp_path / "j", BOUND, fresh=False)
    try:
        journal.add_keys(["a", "b", "c", "d", "e"])
        ids = [key_id for key_id, _ in journal.pending(0, 10)]
        entries = [{"id": "1", "name": "x"}, {"id": "2", "name": "y"}, {"name": "z", "id": "3", "city": "q"},
                   {"id": "4", "name": "w"}, {"ID": "5", "Zip": "0"}]
        answers = [(key_id, LookupResult(status=LookupStatus.FOUND, attempts=1, http_status=200, entry=entry), WHEN)
                   for key_id, entry in zip(ids, entries, strict=True)]
        journal.record(answers[:3])
        journal.record(answers[3:])
        assert journal.field_names("entry") == ["id", "name", "city", "Zip"]
    finally:
        journal.close()
