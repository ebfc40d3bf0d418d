"""Generate the sample calling list and key files (deterministic: the same seed, the same bytes).

    python sample_inputs/generate.py [--out DIR] [--seed N]

Writes, into DIR (default: this folder):

- ``records.csv``: a calling list of 3,000 records for the simulator (key field ``account_id``),
  with status columns (``status.*``) in every state a real list shows.
- ``keys.csv``: 2,002 key rows to reconcile: ``account_id`` plus passthrough columns, with unknown
  keys, duplicates, empty and whitespace-only keys, and notes holding commas, quotes and newlines.
- ``keys.parquet``: 500 key rows of the same kind (a different subset), every column a string.
"""

from __future__ import annotations

import argparse
import csv
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20210219
RECORDS = 3000
KEY_ROWS_KNOWN = 1919
UNKNOWN_KEYS = 30
DUPLICATES = 50
PARQUET_ROWS = 500

FIRST_NAMES = ["Mike", "Anna", "José", "Zoë", "François", "Łukasz", "Siobhán", "Björn", "Chloé", "Renée",
               "Mei", "Ahmed", "Olga", "Giulia", "Søren", "Priya", "Kwame", "Hana", "Diego", "Ingrid",
               'William "Bill"', "Mary-Jane", "Noël", "Ève", "Tomás"]
LAST_NAMES = ["Miller", "Müller", "O'Brien", "Smith, Jr.", "García", "Nguyễn", "D'Angelo", "van der Berg",
              "Johnson", "Kowalski", "Øberg", "Lefèvre", "Brown, III", "Tanaka", "Schäfer", "Rossi",
              "Okafor", "Singh", "Dubois", "Fernández", 'Lee "Tiger"', "Ivanova", "Walsh", "Kim", "Çelik"]
CITIES = ["San Francisco", "Zürich", "São Paulo", "Washington, D.C.", "Montréal", "London", "Kraków",
          "Austin", "München", "Dublin", "Tokyo", "Lagos", "Bengaluru", "Reykjavík", "Toronto"]
AREA_CODES = ["650", "415", "212", "312", "512", "617", "206", "303"]
AGENTS = ["elizabeth", "john.smith", "maria", "kenji", "fatima", "olaf", "priya.k"]
OWNERS = ["Alice Chen", "Bob Martin", "Carla Díaz", "Dmitri Petrov", "Erin O'Neil"]
SEGMENTS = ["gold", "silver", "bronze", "prospect"]
NOTES = ["", "", "", "", "call after 5pm", "prefers email, not phone", 'said "call me back"',
         "VIP\nescalated twice", "moved to Zürich; new number pending", "Smith, Jr. — billing contact",
         "line one\nline two, with a comma", "'quoted' in single quotes"]

# (disposition, weight, reaches an agent, final: completes the record)
DISPOSITIONS = [
    ("No answer", 18, False, False),
    ("Busy", 8, False, False),
    ("Answering machine", 14, False, False),
    ("Try again later", 10, True, False),
    ("Sale", 12, True, True),
    ("Not interested", 14, True, True),
    ("Do not call", 5, True, True),
    ("Wrong number", 4, True, True),
    ("Fax", 2, False, True),
]
STATUS_COLUMNS = ["status.completed", "status.lastDisposition", "status.lastDate", "status.lastPhone",
                  "status.lastCallDuration", "status.lastAgent", "status.totalAttempts",
                  "status.globalInteractionID"]
FIRST_CALL = datetime(2021, 1, 4, 14, 0, 0)


def account_ids(rng: random.Random) -> list[str]:
    """Unique six-digit ids; most below 100000, so most have leading zeros."""
    return [f"{number:06d}" for number in sorted(rng.sample(range(1, 160_000), RECORDS))]


def phone(rng: random.Random) -> str:
    return f"1{rng.choice(AREA_CODES)}555{rng.randrange(10_000):04d}"


def status(rng: random.Random, phone_number: str) -> list[str]:
    """The status cells of one record, in STATUS_COLUMNS order ("" = absent)."""
    if rng.random() < 0.2:
        return ["false", "", "", "", "", "", "0", ""]
    name, _, agent, final = rng.choices(DISPOSITIONS, weights=[d[1] for d in DISPOSITIONS])[0]
    attempts = rng.randint(1, 6)
    completed = final or (attempts >= 6 and rng.random() < 0.5)  # out of attempts
    when = FIRST_CALL + timedelta(seconds=rng.randrange(60 * 24 * 3600))
    duration = rng.randint(15, 900) if agent else (rng.randint(5, 40) if name == "Answering machine" else 0)
    last_phone = phone_number if rng.random() < 0.9 else phone(rng)
    interaction = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper() if rng.random() < 0.6 else ""
    return ["true" if completed else "false", name, when.strftime("%Y-%m-%dT%H:%M:%S.000"), last_phone,
            str(duration), rng.choice(AGENTS) if agent else "", str(attempts), interaction]


def write_records(path: Path, rng: random.Random, ids: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["account_id", "firstName", "lastName", "phone", "city", *STATUS_COLUMNS])
        for account_id in ids:
            number = phone(rng)
            writer.writerow([account_id, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), number,
                             rng.choice(CITIES), *status(rng, number)])


def unknown_ids(rng: random.Random, known: list[str], count: int) -> list[str]:
    """Keys the list does not hold, a few of them known ids with their leading zeros lost."""
    taken = set(known)
    stripped = [str(int(k)) for k in known if k.startswith("0")][:3]
    fresh = [f"{n:06d}" for n in rng.sample(range(160_000, 999_999), count - len(stripped))]
    return [k for k in stripped + fresh if k not in taken]


def key_row(rng: random.Random, account_id: str) -> list[str]:
    return [account_id, rng.choice(OWNERS), rng.choice(SEGMENTS), rng.choice(NOTES)]


def key_rows(rng: random.Random, ids: list[str], known: int, unknown: int, duplicates: int) -> list[list[str]]:
    chosen = rng.sample(ids, known) + unknown_ids(rng, ids, unknown)
    rows = [key_row(rng, account_id) for account_id in chosen]
    rows += [key_row(rng, rng.choice(chosen[:known])) for _ in range(duplicates)]
    rng.shuffle(rows)
    return rows


def write_keys_csv(path: Path, rng: random.Random, ids: list[str]) -> None:
    rows = key_rows(rng, ids, KEY_ROWS_KNOWN, UNKNOWN_KEYS, DUPLICATES)
    for position, blank in ((137, ""), (1024, ""), (1500, "   ")):
        rows.insert(position, key_row(rng, blank))
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["account_id", "crm_owner", "segment", "note"])
        writer.writerows(rows)


def write_keys_parquet(path: Path, rng: random.Random, ids: list[str]) -> None:
    rows = key_rows(rng, ids, PARQUET_ROWS - 20, 10, 10)
    names = ["account_id", "crm_owner", "segment", "note"]
    columns = [pa.array([row[i] for row in rows], pa.string()) for i in range(len(names))]
    pq.write_table(pa.table(columns, names=names), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ids = account_ids(rng)
    write_records(args.out / "records.csv", rng, ids)
    write_keys_csv(args.out / "keys.csv", rng, ids)
    write_keys_parquet(args.out / "keys.parquet", rng, ids)


if __name__ == "__main__":
    main()
