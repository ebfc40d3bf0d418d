"""Keys in no order are loaded through a temporary table, and give the journal that adding each batch gives.

The reference is ``Journal.add_keys`` one batch after another (every run's path before): the same
ids in first-seen order, duplicates within and across batches dropped, every text kept exactly (a
NUL, a literal ``\\u0000``), and a load stopped or killed before its end leaves no key behind, so
that the run's next attempt loads again from the start.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.journal.journal_file import JOURNAL_SCHEMA
from reconciler.journal.store import Journal

BOUND = {"input": "keys.csv"}
ODD = ['quote " and back\\slash', "tab\there", "é😀\u2028", "nul\x00inside", "\\u0000", "", "Z", "a", "ä", "a\x00"]


def batches(seed: int) -> list[list[str]]:
    """Batches of distinct keys (as load_keys gives them) in no order, repeating keys of earlier batches."""
    rng = random.Random(seed)
    pool = ODD + [f"k{n}" for n in range(300)]
    out = []
    for _ in range(rng.randint(1, 6)):
        batch = list(dict.fromkeys(rng.choices(pool, k=rng.randint(1, 80))))
        out.append(batch)
    if out[0] == sorted(out[0]):  # a first batch in order loads a batch at a time: not what is tested here
        out[0].reverse()
    return out


def table(journal: Journal) -> list[tuple[int, str]]:
    return journal.pending(0, 10_000)


def by_add_keys(path: Path, loads: list[list[str]]) -> list[tuple[int, str]]:
    journal = Journal.open(path, BOUND, fresh=True)
    for batch in loads:
        journal.add_keys(batch)
    journal.finish_loading({"rows": 1})
    try:
        return table(journal)
    finally:
        journal.close()


def staged_rows(journal: Journal) -> int:
    return int(journal._db.execute("SELECT count(*) FROM temp.loading").fetchone()[0])


@pytest.mark.parametrize("seed", range(15))
def test_keys_in_no_order_get_the_ids_and_texts_that_adding_each_batch_gives(tmp_path: Path, seed: int) -> None:
    loads = batches(seed)
    journal = Journal.open(tmp_path / "j", BOUND, fresh=True)
    try:
        load = journal.key_load()
        for batch in loads:
            load.add(batch)
        assert staged_rows(journal) == sum(map(len, loads))  # staged: not one batch at a time
        assert table(journal) == [] and not journal.keys_loaded
        load.finish({"rows": 1})
        assert journal.keys_loaded and journal.load_summary() == {"rows": 1}
        got = table(journal)
        # The key index is whole and unique again: adding the keys once more adds none.
        assert journal._db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        journal.add_keys([key for _, key in got])
        assert table(journal) == got
    finally:
        journal.close()
    assert got == by_add_keys(tmp_path / "reference", loads)


def test_a_load_stopped_before_its_end_leaves_no_key_and_loads_again_from_the_start(tmp_path: Path) -> None:
    loads = batches(3)
    journal = Journal.open(tmp_path / "j", BOUND, fresh=False)
    load = journal.key_load()
    for batch in loads[:2]:
        load.add(batch)
    journal.close()  # stopped (or killed): the temporary table goes with the connection
    journal = Journal.open(tmp_path / "j", BOUND, fresh=False)
    try:
        assert table(journal) == [] and not journal.keys_loaded
        load = journal.key_load()
        for batch in loads:
            load.add(batch)
        load.finish({"rows": 1})
        assert table(journal) == by_add_keys(tmp_path / "reference", loads)
    finally:
        journal.close()


@pytest.mark.parametrize("kind", ["older journal", "keys already held", "first batch in order"])
def test_the_other_loads_go_a_batch_at_a_time_as_before(tmp_path: Path, kind: str) -> None:
    loads = batches(5)
    if kind == "older journal":  # its key index is part of its table, and cannot be dropped
        sqlite3.connect(tmp_path / "j").executescript(
            JOURNAL_SCHEMA.replace("key TEXT NOT NULL,", "key TEXT NOT NULL UNIQUE,")).close()
    journal = Journal.open(tmp_path / "j", BOUND, fresh=False)
    if kind == "keys already held":
        journal.add_keys(loads[0])
    if kind == "first batch in order":
        loads[0].sort()
    try:
        load = journal.key_load()
        for batch in loads:
            load.add(batch)
        assert journal._db.execute("SELECT name FROM temp.sqlite_master WHERE name = 'loading'").fetchone() is None
        load.finish({"rows": 1})
        assert table(journal) == by_add_keys(tmp_path / "reference", loads)
    finally:
        journal.close()


_LOADER = """
import random, sys
from pathlib import Path
from reconciler.journal.store import Journal
keys = [f"{n:07d}" for n in range(200_000)]
random.Random(1).shuffle(keys)
journal = Journal.open(Path(sys.argv[1]), {"input": "keys.csv"}, fresh=False)
load = journal.key_load()
for start in range(0, len(keys), 20_000):
    load.add(keys[start:start + 20_000])
print("merging", flush=True)
load.finish({"rows": len(keys)})
print("done", flush=True)
"""


def test_a_load_killed_while_merging_resumes_to_the_same_journal(tmp_path: Path) -> None:
    path = tmp_path / "j"
    with subprocess.Popen([sys.executable, "-c", _LOADER, str(path)], stdout=subprocess.PIPE, text=True) as loader:
        assert loader.stdout is not None
        assert loader.stdout.readline() == "merging\n"
        os.kill(loader.pid, signal.SIGKILL)  # during the merge (about 0.1 s), or just after it
        loader.wait()
    journal = Journal.open(path, BOUND, fresh=False)
    try:
        loaded = journal.keys_loaded
        assert journal.distinct_keys() == (200_000 if loaded else 0)  # all of them, or none and loaded again
    finally:
        journal.close()
    assert subprocess.run([sys.executable, "-c", _LOADER, str(path)], capture_output=True, check=False).returncode == 0
    keys = [f"{n:07d}" for n in range(200_000)]
    random.Random(1).shuffle(keys)
    journal = Journal.open(path, BOUND, fresh=False)
    try:
        assert [key for _, key in table(journal)] == keys[:10_000]
        assert journal.distinct_keys() == 200_000
    finally:
        journal.close()
