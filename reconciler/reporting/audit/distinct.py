"""Which rows of a table are the first of their key: records are counted once, however many rows ask for them.

Exact sets of tens of millions of keys would take gigabytes as Python strings, so each key is kept
as 128 bits: two SipHash digests of its text under two keys (pandas' ``hash_array``), 16 bytes a
distinct key. Two distinct keys share both digests with a probability below 10^-20 for a table of
a hundred million keys: far below any other way a count can go wrong. The digests are kept in
sorted runs that are merged as they grow (as a log-structured merge tree does), so a batch costs a
binary search in each run and the merges O(n log n) in all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

_KEYS = ("reconciler-aud-1", "reconciler-aud-2")  # SipHash keys: 16 characters each
_Digests = npt.NDArray[np.uint64]


def key_digests(columns: Sequence[pa.Array]) -> tuple[_Digests, _Digests]:
    """Two 64-bit digests of each row's key (its columns' text; a composite key column by column)."""
    frame = pd.DataFrame({str(i): column.cast(pa.string()).to_numpy(zero_copy_only=False)
                          for i, column in enumerate(columns)}, dtype=object)
    high, low = (pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy(np.uint64) for key in _KEYS)
    return high, low


class DistinctKeys:
    """The keys seen so far; ``first_seen`` tells, for a batch, which rows hold a key not seen before."""

    def __init__(self) -> None:
        self._runs: list[tuple[_Digests, _Digests]] = []  # each sorted by its high digest, sizes decreasing

    def __len__(self) -> int:
        return sum(len(high) for high, _ in self._runs)

    def first_seen(self, high: _Digests, low: _Digests) -> npt.NDArray[np.bool_]:
        """True for each row whose key is in no earlier row (of this batch or of any before)."""
        order = np.lexsort((low, high))
        sorted_high, sorted_low = high[order], low[order]
        repeat = np.zeros(len(order), dtype=bool)
        repeat[1:] = (sorted_high[1:] == sorted_high[:-1]) & (sorted_low[1:] == sorted_low[:-1])
        # lexsort is stable: of equal keys, the first row of the batch comes first and is kept. Sorted
        # queries also keep each run's binary searches in cache.
        fresh = ~repeat
        for run_high, run_low in self._runs:
            fresh &= ~_members(run_high, run_low, sorted_high, sorted_low)
        new = np.zeros(len(order), dtype=bool)
        new[order] = fresh
        kept = np.flatnonzero(new)
        self._add(high[kept], low[kept])
        return new

    def _add(self, high: _Digests, low: _Digests) -> None:
        self._runs.append(_sorted(high, low))
        while len(self._runs) > 1 and len(self._runs[-1][0]) * 2 >= len(self._runs[-2][0]):
            (high_a, low_a), (high_b, low_b) = self._runs.pop(), self._runs.pop()
            self._runs.append(_sorted(np.concatenate((high_b, high_a)), np.concatenate((low_b, low_a))))


def _sorted(high: _Digests, low: _Digests) -> tuple[_Digests, _Digests]:
    # By the high digest only: a stable sort of two sorted runs is a merge (timsort), and the rare keys
    # that share a high digest are told apart by _members.
    order = np.argsort(high, kind="stable")
    return high[order], low[order]


def _members(run_high: _Digests, run_low: _Digests, high: _Digests, low: _Digests) -> npt.NDArray[np.bool_]:
    """Whether each (high, low) is in the sorted run."""
    start = np.searchsorted(run_high, high, side="left")
    end = np.searchsorted(run_high, high, side="right")
    found = np.zeros(len(high), dtype=bool)
    single = end - start == 1
    found[single] = run_low[start[single]] == low[single]
    for row in np.flatnonzero(end - start > 1):  # the same high digest for two keys: rare
        found[row] = bool(np.any(run_low[start[row]:end[row]] == low[row]))
    return found
