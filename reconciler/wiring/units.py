"""Settings given as text, in a flag or a TOML value: a rate, a size in bytes, a duration."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from reconciler.errors import InvalidOption


def parse_rate(text: str) -> float:
    """Requests per second from ``20`` or ``2.5``; ``inf`` (or ``unlimited``) for no limit."""
    if text.strip().lower() in ("inf", "unlimited"):
        return math.inf
    return float(text)


_SIZE = re.compile(r"(\d+)\s*([KMG]iB)?", re.IGNORECASE | re.ASCII)
_SIZE_UNITS = {"": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}


def parse_size(text: str) -> int:
    """Bytes from ``16777216`` or ``16MiB`` (KiB, MiB, GiB: powers of 1,024)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()]


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_setting(settings: Mapping[str, Any], name: str, default: float) -> float:
    """Seconds from ``7d``, ``36h``, ``10m`` or ``90s``."""
    text = settings.get(name)
    if text is None:
        return default
    value = str(text).strip().lower()
    try:
        if value[-1:] in _UNITS and float(value[:-1]) >= 0:
            return float(value[:-1]) * _UNITS[value[-1]]
    except ValueError:
        pass
    raise InvalidOption("--" + name.replace("_", "-"), text, "a duration with its unit, e.g. 7d, 36h, 10m or 90s")
