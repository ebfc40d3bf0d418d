"""The simulator's command line: ``reconciler simulate ...`` or ``python -m reconciler.simulator ...``.

A thin adapter: flags named like the ``SimulatorConfig`` and ``FaultConfig`` fields, one call to
``serve``, errors mapped to a one-line message and the error's exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from reconciler.errors import InputError, InvalidOption, ReconcilerError
from reconciler.simulator.config import (
    DEFAULT_CAMPAIGN,
    DEFAULT_REALM,
    DEFAULT_TENANT,
    Account,
    ListSource,
    SimulatorConfig,
)
from reconciler.simulator.faults import FaultConfig
from reconciler.simulator.quirks import QuirkConfig
from reconciler.simulator.server import RunningSimulator, serve

DEFAULT_PORT = 8080
EPILOG = ("Dialects: classic (/admin/ws/t/TENANT/..., HTTP Digest), v2 (/configapi/v2/..., bearer token) and "
          "v3 (/configapi/v3/campaign/..., bearer token: getAll lists campaigns with ids, getCampaign/ID their "
          "list instances, queryRecord/ID and getAllRecords/ID read records by instanceId, getUpdatedRecords/ID "
          "and getCompletedRecords/ID those with activity from startTime (endTime optional), by cursor; 409 for "
          "an instance not bound to the campaign, 415 for a body not sent as application/json). v3 ids are "
          "UUID 5 of the names, the same on every start. Counters: GET /__stats (?keys=1 for the per-key map); "
          "POST /__stats/reset. getChanged and getCompleted (classic and v2; v3's getUpdatedRecords and "
          "getCompletedRecords, counted under those names) report the activity that "
          "'reconciler simulate activity --url URL --attempts N ...' (or POST /__activity) makes on a running "
          "simulator: see 'reconciler simulate activity --help'. As a live server was seen to: blank key values "
          "are a missing key; page bodies lacking a parameter or with an unknown one get 'invalid parameters', "
          "fromTime only as 2013-03-01T13:15:06.456 (else 'Unparseable date: \"...\"'); bodies that are not a JSON "
          "object get the server's JSON parser message (Expected BEGIN_OBJECT but was ...); doubled slashes in "
          "a path answer as the single-slash path.")
DEFAULT_USERS = (Account(login="demo", secret="demo-password"),)
DEFAULT_CLIENTS = (Account(login="demo-client", secret="demo-secret"),)


def _login_secret(text: str) -> tuple[str, str]:
    login, sep, secret = text.partition(":")
    if not sep or not login:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOGIN:SECRET")
    return login, secret


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's flags to ``parser``."""
    data = parser.add_argument_group("data")
    data.add_argument("--records", action="append", type=Path, required=True, metavar="FILE",
                      help="records file, CSV or Parquet (repeat for several lists); format: "
                           "see reconciler/simulator/README.md")
    data.add_argument("--list", action="append", dest="list_names", default=[], metavar="NAME",
                      help="list name of the n-th --records file (default: the file's name)")
    data.add_argument("--campaign", action="append", dest="campaigns", default=[], metavar="NAME",
                      help=f"campaign the lists are bound to (repeatable; default {DEFAULT_CAMPAIGN})")
    data.add_argument("--key-fields", type=_names, default=(), metavar="A,B",
                      help="the lists' unique key fields (default: the first column)")
    data.add_argument("--empty-campaign", action="append", dest="empty_campaigns", default=[], metavar="NAME",
                      help='a campaign no list is bound to (repeatable): campaign/getAll lists it with "lists": []')
    data.add_argument("--campaign-state", action="append", dest="campaign_states", default=[], type=_campaign_state,
                      metavar="NAME=STATE", help="the state campaign/getAll answers for campaign NAME (repeatable; "
                                                 "default RUNNING), e.g. Campaign_2=STOPPED")
    _add_account_arguments(parser)
    _add_fault_arguments(parser)
    _add_quirk_arguments(parser)
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    net.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0: a free port")
    net.add_argument("--port-file", type=Path, metavar="PATH",
                     help="write the port number here once listening")
    net.add_argument("--tls-cert", type=Path, metavar="PEM",
                     help="serve HTTPS with this certificate (its chain, server's first); with --tls-key")
    net.add_argument("--tls-key", type=Path, metavar="PEM", help="the private key of --tls-cert")


def _add_account_arguments(parser: argparse.ArgumentParser) -> None:
    auth = parser.add_argument_group("tenant and accounts")
    auth.add_argument("--tenant", default=DEFAULT_TENANT, help=f"default {DEFAULT_TENANT}")
    auth.add_argument("--user", action="append", dest="users", type=_login_secret, metavar="LOGIN:PASSWORD",
                      help="classic digest user with Manage lists (repeatable; default demo:demo-password)")
    auth.add_argument("--unprivileged-user", action="append", dest="unprivileged_users", default=[],
                      type=_login_secret, metavar="LOGIN:PASSWORD", help="authenticates, then gets 403")
    auth.add_argument("--client", action="append", dest="clients", type=_login_secret, metavar="ID:SECRET",
                      help="v2 and v3 API client (repeatable; default demo-client:demo-secret)")
    auth.add_argument("--unprivileged-client", action="append", dest="unprivileged_clients", default=[],
                      type=_login_secret, metavar="ID:SECRET", help="gets a token, then 403")
    auth.add_argument("--realm", default=DEFAULT_REALM, help=f"digest realm (default {DEFAULT_REALM})")
    auth.add_argument("--nonce-lifetime", type=float, metavar="SECONDS",
                      help="digest nonces go stale after this long (default: never)")
    auth.add_argument("--token-lifetime", type=float, default=3600.0, metavar="SECONDS",
                      help="v2 and v3 tokens expire after this long (default 3600)")


def _campaign_state(text: str) -> tuple[str, str]:
    name, sep, state = text.partition("=")
    if not sep or not name.strip() or not state.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=STATE (e.g. Campaign_2=STOPPED)")
    return name, state.strip()


def _add_quirk_arguments(parser: argparse.ArgumentParser) -> None:
    quirks = parser.add_argument_group("a live server's recorded departures from the documentation (all off)")
    quirks.add_argument("--unordered-pages", action="store_true",
                        help="getAll (and v3 getAllRecords) pages come shuffled (repeatably with --seed), never "
                             "ending on their highest index, and every 7th index is unused; a page still holds the "
                             "records with the lowest indexes from fromIndex on")
    quirks.add_argument("--loose-phone-keys", action="store_true",
                        help="a key value finds a stored one that differs only by a leading + (1001 finds +1001 "
                             "and the other way round); the answer holds the stored value")
    quirks.add_argument("--changes-in-index-order", action="store_true",
                        help="getChanged and getCompleted (classic, v2) answer the records changed since fromTime "
                             "in list-index order (maxSize of them), not oldest first: a client paging on by the "
                             "latest time of a page then misses records")


def _add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    faults = parser.add_argument_group("faults (query and getAll requests, after authentication)")
    faults.add_argument("--seed", type=int, help="seed for repeatable faults (and --unordered-pages shuffles)")
    for flag, what in (("--fail-503", "get 503"), ("--fail-429", "get 429"),
                       ("--reset", "see their connection closed without an answer"),
                       ("--html", "get 200 with a proxy's HTML error page"),
                       ("--stall", "are answered only after --stall-seconds")):
        faults.add_argument(flag, type=float, default=0.0, metavar="FRACTION",
                            help=f"fraction of requests that {what}")
    faults.add_argument("--retry-after", type=float, metavar="SECONDS", help="Retry-After of the --fail-429s")
    faults.add_argument("--stall-seconds", type=float, default=60.0, metavar="S", help="default 60")
    faults.add_argument("--rate-ceiling", type=float, metavar="PER_SECOND",
                        help="429 (Retry-After: 1) beyond this many requests in a 1-second window")
    faults.add_argument("--latency", type=float, default=0.0, metavar="MS", help="added to every answer")
    faults.add_argument("--jitter", type=float, default=0.0, metavar="MS", help="latency varies by +/- this")


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The ``SimulatorConfig`` the parsed flags describe."""
    return SimulatorConfig(
        lists=_list_sources(args),
        tenant=args.tenant,
        users=_accounts(args.users, args.unprivileged_users, DEFAULT_USERS),
        clients=_accounts(args.clients, args.unprivileged_clients, DEFAULT_CLIENTS),
        realm=args.realm,
        nonce_lifetime=args.nonce_lifetime,
        token_lifetime=args.token_lifetime,
        faults=FaultConfig(
            seed=args.seed, fail_503=args.fail_503, fail_429=args.fail_429, retry_after=args.retry_after,
            rate_ceiling=args.rate_ceiling, latency_ms=args.latency, jitter_ms=args.jitter,
            reset=args.reset, html=args.html, stall=args.stall, stall_seconds=args.stall_seconds,
        ),
        quirks=QuirkConfig(unordered_pages=args.unordered_pages, loose_phone_keys=args.loose_phone_keys,
                           changes_in_index_order=args.changes_in_index_order),
        empty_campaigns=tuple(args.empty_campaigns),
        campaign_states=dict(args.campaign_states),
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )


def _list_sources(args: argparse.Namespace) -> tuple[ListSource, ...]:
    paths: list[Path] = args.records
    names: list[str] = args.list_names
    if len(names) > len(paths):
        raise InvalidOption("--list", names, "at most one --list per --records file")
    campaigns = tuple(args.campaigns) or (DEFAULT_CAMPAIGN,)
    return tuple(
        ListSource(path=path, list_name=names[i] if i < len(names) else None, campaigns=campaigns,
                   key_fields=args.key_fields)
        for i, path in enumerate(paths)
    )


def _accounts(
    privileged: list[tuple[str, str]] | None, unprivileged: list[tuple[str, str]], defaults: tuple[Account, ...]
) -> tuple[Account, ...]:
    chosen = [Account(login=login, secret=secret) for login, secret in privileged] if privileged else [*defaults]
    chosen += [Account(login=login, secret=secret, privileged=False) for login, secret in unprivileged]
    return tuple(chosen)


def run_from_args(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM (then 0); a bad flag or records file prints one line and exits 2."""
    try:
        config = config_from_args(args)
        serve(config, on_ready=lambda running: _announce(running, args.port_file))
    except ReconcilerError as exc:
        print(f"reconciler simulator: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _announce(running: RunningSimulator, port_file: Path | None) -> None:
    print(f"reconciler simulator listening on {running.base_url} ({running.summary()})", flush=True)
    if port_file is not None:
        _write_atomically(port_file, f"{running.port}\n")


def _write_atomically(path: Path, text: str) -> None:
    """Readers of ``path`` see nothing or the whole text, never a half-written file."""
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise InputError(path, f"cannot write the port file: {exc}") from exc
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reconciler.simulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m reconciler.simulator",
        description="A simulated Bright Pattern contact center serving calling lists from records files.",
        epilog=EPILOG,
    )
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["activity"]:
        from reconciler.simulator.activity_cli import main as move_campaign_on

        return move_campaign_on(arguments[1:], prog="python -m reconciler.simulator activity")
    add_arguments(parser)
    return run_from_args(parser.parse_args(arguments))
