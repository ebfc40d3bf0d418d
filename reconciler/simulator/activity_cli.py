"""``reconciler simulate activity``: move a running simulator's campaign on, as a day of calling would.

It sends ``POST /__activity`` to the simulator at ``--url`` and prints what was done in one line
(``--json`` prints the simulator's whole answer, the keys added and deleted included).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

DESCRIPTION = ("Make a round of calling activity on a running simulator: --attempts call attempts on records "
               "not completed yet, --complete of them completing their record, --add new never-called records, "
               "--delete records taken off the list. The attempts get distinct times over the hours before the "
               "simulator's clock, later than any the list holds, so getChanged and getCompleted report them.")
EXIT_REFUSED, EXIT_NOT_FOUND, EXIT_UNREACHABLE = 2, 3, 1


def build_parser(prog: str = "reconciler simulate activity") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION,
                                     epilog="Exit codes: 0 done; 2 a bad flag or an activity the list cannot take; "
                                     "3 no such list or campaign; 1 the simulator did not answer.")
    parser.add_argument("--url", required=True, help="the simulator's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--list", dest="list_name", metavar="NAME", help="calling list (default: the only one)")
    parser.add_argument("--campaign", metavar="NAME", help="campaign (default: the list's first)")
    for flag, what in (("--attempts", "call attempts, each on a different record not completed yet"),
                       ("--complete", "how many of those attempts complete their record"),
                       ("--add", "new never-called records appended to the list"),
                       ("--delete", "records taken off the list")):
        parser.add_argument(flag, type=_count, default=0, metavar="N", help=f"{what} (default 0)")
    parser.add_argument("--seed", type=int, help="seed for repeatable picks and dispositions")
    parser.add_argument("--json", action="store_true", help="print the simulator's whole answer as JSON")
    return parser


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0 up")
    return int(text)


def main(argv: Sequence[str] | None = None, prog: str = "reconciler simulate activity") -> int:
    args = build_parser(prog).parse_args(argv)
    body = {"list": args.list_name, "campaign": args.campaign, "attempts": args.attempts,
            "complete": args.complete, "add": args.add, "delete": args.delete, "seed": args.seed}
    url = args.url.rstrip("/") + "/__activity"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as answer:
            done = json.load(answer)
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace").strip()
        print(f"{prog}: error: {url} answered {exc.code}: {text}", file=sys.stderr)
        return EXIT_NOT_FOUND if exc.code == 404 else EXIT_REFUSED
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"{prog}: error: no simulator answered at {url}: {reason}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(json.dumps(done, ensure_ascii=False) if args.json else describe(done), flush=True)
    return 0


def describe(done: dict[str, object]) -> str:
    """One line on a round of activity, from the simulator's answer."""
    added, deleted = done.get("added") or [], done.get("deleted") or []
    span = (f" between {done['first_attempt_at']} and {done['last_attempt_at']} UTC"
            if done.get("first_attempt_at") else "")
    return (f"list {done.get('list')!r} in {done.get('campaign')}: {done.get('attempts')} call attempts{span} "
            f"({done.get('completed')} completed their record), {len(added)} records added "  # type: ignore[arg-type]
            f"{_keys(added)}, {len(deleted)} deleted {_keys(deleted)}".rstrip())  # type: ignore[arg-type]


def _keys(keys: object) -> str:
    if not isinstance(keys, list) or not keys:
        return ""
    shown = ["|".join(str(v) for v in key.values()) if isinstance(key, dict) else str(key) for key in keys[:5]]
    more = f", ... {len(keys) - 5} more" if len(keys) > 5 else ""
    return f"({', '.join(shown)}{more})"
