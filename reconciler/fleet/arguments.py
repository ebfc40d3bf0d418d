"""``reconciler fleet``'s flags: declared apart from the command, so that the CLI builds its parser
without importing the fleet's machinery (the client among it) for every other command."""

from __future__ import annotations

from typing import Any

from reconciler.wiring.settings import LOG_FORMATS


def add_fleet_parser(commands: Any) -> None:
    """Declare ``reconciler fleet`` on the CLI's subcommands."""
    fleet = commands.add_parser(
        "fleet", help="reconcile every target of a fleet file (many lists, campaigns and tenants)",
        description="Run every target of a fleet file in one process: one rate budget per tenant, shared by its "
                    "targets; one journal, state and output per target; one target's failure does not stop the "
                    "others. Exit 0 all complete, 1 some target did not complete, 2 bad fleet file (nothing sent), "
                    "3 every target refused by the server, 130/143 interrupted (rerun to resume).")
    fleet.add_argument("fleet_file", metavar="FILE", help="the fleet file (TOML)")
    fleet.add_argument("--shard", metavar="I/N", help="run shard I of N (0-based): whole tenants, dealt "
                       "round-robin by name")
    fleet.add_argument("--shards", type=int, metavar="N", help="run shard $JOB_COMPLETION_INDEX of N (a Kubernetes "
                       "Indexed Job)")
    fleet.add_argument("--plan", action="store_true", help="print the tenants and named targets of each shard as "
                       "JSON on stdout, and contact nothing")
    fleet.add_argument("--report", metavar="PATH", help="write the JSON fleet report here")
    fleet.add_argument("--ledger", metavar="PATH", help="the ledger of finished targets [the file's ledger, else "
                       ".FILE.fleet-ledger here]")
    fleet.add_argument("--quiet", action="store_true", help="no progress lines; errors and the end lines only")
    fleet.add_argument("--progress-interval", type=float, default=30.0, metavar="SECONDS",
                       help="seconds between the fleet's progress lines [30]")
    fleet.add_argument("--log-format", choices=LOG_FORMATS, default="text", help="text or json [text]")
    fleet.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
