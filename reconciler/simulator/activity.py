"""A day of calling on a simulated campaign: call attempts, completions, records added and deleted.

``move_on`` makes the attempts at distinct times (milliseconds apart at least), spread over the
hours before the server's clock and always after any time the list already holds, so that a
reconciler paging getChanged by time sees each of them once, in order. Picks are seeded.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.simulator.calling_list import CallingList

DAY_MS = 8 * 3600 * 1000  # a calling day over which a round of attempts is spread
AGENTS = ("elizabeth", "john.smith", "maria", "kenji", "fatima", "olaf", "priya.k")
CALL_NOTES = ("", "", "Asked to be called back after 6 pm", "Interested, wants a brochure", "Spoke to spouse")


@dataclass(frozen=True)
class Disposition:
    name: str
    code: int
    weight: int
    reaches_agent: bool


# As sample_inputs/generate.py writes them: outcomes that leave a record to be called again ...
RETRY = (Disposition("No answer", 1, 18, False), Disposition("Busy", 2, 8, False),
         Disposition("Answering machine", 3, 14, False), Disposition("Try again later", 4, 10, True))
# ... and those that complete it.
FINAL = (Disposition("Sale", 5, 12, True), Disposition("Not interested", 6, 14, True),
         Disposition("Do not call", 7, 5, True), Disposition("Wrong number", 8, 4, True))


class ActivityRefused(ValueError):
    """The activity asked for cannot be made (a bad count, or not enough records)."""


@dataclass(frozen=True, kw_only=True)
class ActivityPlan:
    attempts: int = 0  # call attempts, each on a different record not completed yet
    complete: int = 0  # how many of those attempts complete their record
    add: int = 0  # never-called records appended to the list
    delete: int = 0  # records taken off the list (none of those called in this round)
    seed: int | None = None

    def check(self) -> None:
        for name in ("attempts", "complete", "add", "delete"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ActivityRefused(f"{name} must be a whole number from 0 up, not {value!r}")
        if self.complete > self.attempts:
            raise ActivityRefused(f"complete ({self.complete}) cannot exceed attempts ({self.attempts}): "
                                  "a record is completed by one of the round's attempts")


def move_on(calling_list: CallingList, campaign: str, plan: ActivityPlan, clock: Callable[[], float]) -> dict[str, Any]:
    """Make ``plan``'s activity on ``calling_list`` in ``campaign``; returns what was done."""
    plan.check()
    rng = random.Random(plan.seed)
    called = _pick(calling_list, rng, plan.attempts, lambda i: not _completed(calling_list, i, campaign), "called")
    chosen = set(called)
    deleted = _pick(calling_list, rng, plan.delete, lambda i: i not in chosen, "deleted")
    times = attempt_times(calling_list, len(called), int(clock() * 1000))
    completing = set(rng.sample(range(len(called)), plan.complete))
    for position, (index, at_ms) in enumerate(zip(called, times, strict=True)):
        _call(calling_list, campaign, index, at_ms, rng, completes=position in completing)
    deleted_keys = [_key_object(calling_list, index) for index in deleted]
    for index in deleted:
        calling_list.delete(index)
    added = [_key_object(calling_list, _add(calling_list, rng)) for _ in range(plan.add)]
    return {"list": calling_list.name, "campaign": campaign, "attempts": len(called), "completed": plan.complete,
            "added": added, "deleted": deleted_keys,
            "first_attempt_at": api_time(times[0]) if times else None,
            "last_attempt_at": api_time(times[-1]) if times else None}


def attempt_times(calling_list: CallingList, count: int, now_ms: int) -> list[int]:
    """``count`` increasing times over the day before ``now_ms``, later than any the list holds."""
    after = max(calling_list.overlay.latest_ms, calling_list.latest_loaded_ms() or 0)
    start = max(after + 1, now_ms - DAY_MS)
    step = max((now_ms - start) // max(count, 1), 1)
    return [start + position * step for position in range(count)]


def api_time(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}"


def _pick(calling_list: CallingList, rng: random.Random, count: int, eligible: Callable[[int], bool],
          what: str) -> list[int]:
    """``count`` distinct live records that are ``eligible``, drawn at random."""
    if count == 0:
        return []
    picked: dict[int, None] = {}
    for _ in range(20 * count + 1000):  # draws at random while most records qualify ...
        index = rng.randrange(calling_list.end)
        if calling_list.live(index) and index not in picked and eligible(index):
            picked[index] = None
            if len(picked) == count:
                return list(picked)
    for index in range(calling_list.end):  # ... and walks the list when few do
        if calling_list.live(index) and index not in picked and eligible(index):
            picked[index] = None
            if len(picked) == count:
                return list(picked)
    raise ActivityRefused(f"only {len(picked)} records of list {calling_list.name!r} can be {what}, "
                          f"not {count}")


def _completed(calling_list: CallingList, index: int, campaign: str) -> bool:
    status = calling_list.status(index, campaign)
    return status is not None and status.get("completed") is True


def _call(calling_list: CallingList, campaign: str, index: int, at_ms: int, rng: random.Random, *,
          completes: bool) -> None:
    before = calling_list.status(index, campaign) or {}
    choices = FINAL if completes else RETRY
    disposition = rng.choices(choices, weights=[d.weight for d in choices])[0]
    agent = rng.choice(AGENTS) if disposition.reaches_agent else None
    duration = rng.randint(15, 900) if agent else (rng.randint(5, 40) if disposition.code == 3 else 0)
    phone = _phone_of(calling_list.entry(index, lower_names=False), before)
    interaction = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
    attempt = _attempt(disposition, api_time(at_ms), phone, duration, agent, interaction, completes=completes)
    status = {**before, "completed": completes, "lastDisposition": disposition.name, "lastDate": api_time(at_ms),
              "lastPhone": phone, "lastCallDuration": duration, "globalInteractionID": interaction,
              "totalAttempts": int(before.get("totalAttempts", 0) or 0) + 1}  # type: ignore[call-overload]
    if agent is not None:  # lastAgent: the agent of the last attempt that reached one
        status["lastAgent"] = agent
    earlier = [] if calling_list.overlay.attempts(campaign, index) else _known_attempt(before)
    calling_list.overlay.record_attempt(campaign, index, status=status, attempt=attempt, earlier=earlier,
                                        at_ms=at_ms)


def _attempt(disposition: Disposition, date: str, phone: str, duration: int, agent: str | None, interaction: str,
             *, completes: bool) -> dict[str, object]:
    """An attempt as getChanged sends it, in the order of Bright Pattern's example.

    ``call_attempted`` is false on the attempt that completed the record, as a live server was seen
    to send it on an attempt with an agent and a final disposition; it does not say "no call".
    The figures getChanged alone carries are drawn from the interaction id, not from the round's
    random picks, so that adding them moved no seeded round's outcome.
    """
    extra = random.Random(interaction)
    attempt: dict[str, object] = {
        "call_attempted": not completes, "disposition": disposition.name, "dispositionCode": disposition.code,
        "date": date, "phone": phone, "callDuration": duration, "dialingDuration": extra.randint(2, 30),
        "callNotes": extra.choice(CALL_NOTES) if agent is not None else ""}
    if agent is not None:
        attempt["agent"] = agent
    attempt["globalInteractionID"] = interaction
    attempt["CPADuration"] = extra.randint(1, 4) if agent is not None or disposition.code == 3 else 0
    return attempt


def _known_attempt(status: dict[str, object]) -> list[dict[str, object]]:
    """What the loaded status tells of the record's last attempt before the simulator's own."""
    if status.get("lastDate") is None and status.get("lastAgent") is None:
        return []
    # In getChanged's order; what the status does not tell (the code, dialing, notes, call progress
    # analysis) reads as nothing, as Bright Pattern's example sends those.
    told = {"disposition": "lastDisposition", "dispositionCode": None, "date": "lastDate", "phone": "lastPhone",
            "callDuration": "lastCallDuration", "dialingDuration": None, "callNotes": None, "agent": "lastAgent",
            "globalInteractionID": "globalInteractionID", "CPADuration": None}
    untold: dict[str, object] = {"dispositionCode": "", "dialingDuration": 0, "callNotes": "", "CPADuration": 0}
    attempt: dict[str, object] = {"call_attempted": True}
    for name, source in told.items():
        if source is None:
            attempt[name] = untold[name]
        elif status.get(source) is not None:
            attempt[name] = status[source]
    return [attempt]


def _phone_of(entry: dict[str, str], status: dict[str, object]) -> str:
    for name, value in entry.items():
        if "phone" in name.lower() and value:
            return value
    last = status.get("lastPhone")
    return last if isinstance(last, str) and last else "16505550100"


def _add(calling_list: CallingList, rng: random.Random) -> int:
    template = calling_list.entry(rng.randrange(calling_list.loaded_count), lower_names=False) \
        if calling_list.loaded_count else {field: "" for field in calling_list.entry_fields}
    first_key = calling_list.key_fields[0]
    number = calling_list.overlay.end
    while True:
        entry = {**template, first_key: _new_key(calling_list, number)}
        if calling_list.find(tuple(entry[field] for field in calling_list.key_fields)) is None:
            return calling_list.add(entry)
        number += 1


def _new_key(calling_list: CallingList, number: int) -> str:
    """A key like the list's own: the next number as wide as its widest all-digit key, else ``new-N``."""
    largest = calling_list.largest_loaded_number()
    if largest is not None:
        value, width = largest
        return str(value + 1 + number - calling_list.loaded_count).zfill(width)
    return f"new-{number:06d}"


def _key_object(calling_list: CallingList, index: int) -> dict[str, str]:
    entry = calling_list.entry(index, lower_names=False)
    return {field: entry[field] for field in calling_list.key_fields}
