"""reconciler: where every record of a calling list stands in a Bright Pattern campaign.

The supported face is what ``__all__`` names; every other module is free to change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from reconciler.config import Credentials, ReconcileConfig, RequestPolicy, Target
from reconciler.errors import (
    AuthenticationFailed,
    InputError,
    PermissionDenied,
    ReconcilerError,
    RunAborted,
    RunInterrupted,
    ServerUnavailable,
    TargetNotFound,
    UsageError,
)
from reconciler.lookup import LookupResult, LookupStatus, RecordSource, RecordStatus
from reconciler.reporting.stats import RunStats
from reconciler.wiring.pipeline import reconcile, run

if TYPE_CHECKING:
    from reconciler.frame import reconcile_frame


def __getattr__(name: str) -> Any:
    # pandas is the DataFrame face's alone: the command, which never needs it, starts 0.5 s sooner without it.
    if name == "reconcile_frame":
        from reconciler.frame import reconcile_frame

        return reconcile_frame
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AuthenticationFailed",
    "Credentials",
    "InputError",
    "LookupResult",
    "LookupStatus",
    "PermissionDenied",
    "ReconcileConfig",
    "ReconcilerError",
    "RecordSource",
    "RecordStatus",
    "RequestPolicy",
    "RunAborted",
    "RunInterrupted",
    "RunStats",
    "ServerUnavailable",
    "Target",
    "TargetNotFound",
    "UsageError",
    "__version__",
    "reconcile",
    "reconcile_frame",
    "run",
]
