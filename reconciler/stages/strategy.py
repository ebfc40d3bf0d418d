"""Query or scan: which strategy a run takes, and what each costs in requests.

``auto`` compares request counts: one per distinct key for ``query``; for ``scan``, one per page
(1,000 records unless --page-size) of the list. How large a list is can be learned without reading
it: getAll answers ``[]`` from any index past the end, so a binary search over ``fromIndex`` finds the end in about
2 * log2(size) one-record requests.
"""

from __future__ import annotations

from reconciler.lookup import CursorRecordSource, RecordSource

# Where the search for the list's end starts: a guess, not a page (the probe reads one record at a time).
_FIRST_GUESS = 1000


async def probe_list(source: RecordSource) -> None:
    """One one-record read: proves the credentials, the list and its binding to the campaign."""
    if isinstance(source, CursorRecordSource):
        await source.fetch_records(None, 1, 0)
    else:
        await source.fetch_page(0, 1)


async def list_size(source: RecordSource) -> int | None:
    """How many index positions the list spans (its size when indexes have no gaps); None when unknown.

    A list read by cursor (v3) has no index to search: its size is what the server reported when
    the list instance was looked up, and unknown when ``--instance-id`` skipped that look-up.
    """
    if isinstance(source, CursorRecordSource):
        return await source.record_count()
    if not await source.fetch_page(0, 1):
        return 0
    low, high = 1, _FIRST_GUESS
    while await source.fetch_page(high, 1):  # grow until past the end
        low, high = high + 1, high * 4
    while low < high:  # invariant: an index below low exists, none at high or beyond
        middle = (low + high) // 2
        if await source.fetch_page(middle, 1):
            low = middle + 1
        else:
            high = middle
    return low


def scan_requests(size: int, *, page_size: int) -> int:
    """getAll pages of ``page_size`` needed to read a list of ``size`` records (a last short or empty page included)."""
    return size // page_size + 1


# Below this many keys, querying costs less than even learning the list's size.
PROBE_WORTHWHILE = 64


def settled_strategy(configured: str, keys: int, *, unmatched: bool) -> str | None:
    """The strategy when the list's size cannot change it; None when ``auto`` must learn that size."""
    if configured != "auto":
        return configured
    if unmatched:
        return "scan"  # only a scan sees the records that no key asks for
    if keys <= PROBE_WORTHWHILE:
        return "query"
    return None


def choose_strategy(distinct_keys: int, size: int | None, *, page_size: int) -> str:
    """``scan`` when reading the list in pages of ``page_size`` costs fewer requests than asking for every key."""
    if size is None:
        return "query"
    return "scan" if scan_requests(size, page_size=page_size) < distinct_keys else "query"
