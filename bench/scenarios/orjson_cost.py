"""The stretch's second half: what orjson would save on reconciler's JSON per record, and what it would change.

reconciler handles three pieces of JSON per record: the server's answer (``json.loads``), the
entry and extra fields it journals (encoded), and the journalled entry it reads back when joining.
Each is timed here with the standard library and with orjson (best of several ``timeit`` rounds, in
this process), on the canned answer that nginx serves in the ceiling scenario. And one check that
decides where orjson could be used at all: does it read an integer beyond 64 bits exactly?
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.figures import Figure, Scenario
from bench.plan import Plan
from bench.servers import CANNED_ANSWER

NAME = "orjson"
TITLE = "Stretch: the standard library's json vs orjson on reconciler's JSON per record"
NEEDS_NGINX = False
_LOOPS = 20_000


def run(plan: Plan, workdir: Path) -> Scenario:
    import orjson  # the bench extra; installed by the runner when missing, after this module was imported

    answer = json.dumps(CANNED_ANSWER).encode()
    canned: dict[str, dict[str, Any]] = json.loads(answer)
    entry = canned["entry"]
    extra = {"globalInteractionID": canned["status"]["globalInteractionID"]}
    encode = json.JSONEncoder(ensure_ascii=False).encode  # as reconciler/journal_rows.py
    entry_text = encode(entry)
    pieces: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "reading the answer": (lambda: json.loads(answer), lambda: orjson.loads(answer)),
        "journalling entry and extra": (lambda: (encode(entry), encode(extra)),
                                        lambda: (orjson.dumps(entry).decode(), orjson.dumps(extra).decode())),
        "reading the journalled entry": (lambda: json.loads(entry_text), lambda: orjson.loads(entry_text)),
    }
    figures: list[Figure] = []
    saved = 0.0
    for name, (stdlib, fast) in pieces.items():
        stdlib_us, fast_us = _best_us(stdlib), _best_us(fast)
        saved += stdlib_us - fast_us
        figures += [Figure(f"{name}: json", "us/record", [stdlib_us]),
                    Figure(f"{name}: orjson", "us/record", [fast_us])]
    big = b'{"lastCallDuration": 123456789012345678901234567890}'
    exact = orjson.loads(big) == json.loads(big)
    figures += [Figure("saved per record, all three", "us/record", [saved]),
                Figure("orjson reads an integer beyond 64 bits exactly", "1 = yes", [float(exact)])]
    scenario = Scenario(NAME, TITLE, "no server (this process)",
                        {"loops": _LOOPS, "statistic": "best of 7 rounds", "orjson": orjson.__version__})
    scenario.figures = figures
    return scenario


def _best_us(call: Callable[[], Any]) -> float:
    return min(timeit.repeat(call, number=_LOOPS, repeat=7)) / _LOOPS * 1e6
