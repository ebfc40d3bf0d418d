"""Reading a TOML file the user names (``--config``, a fleet file): every way it can fail is one line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from reconciler.errors import InputError


def read_toml(path: Path, what: str, *, not_found: str = "") -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and its TOML; ``InputError`` names ``path`` and ``what`` it is (e.g. "fleet file").

    ``not_found``: added to the message when the file is missing (e.g. which flag named it).
    """
    try:
        raw = path.read_bytes()
        return raw, tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise InputError(path, f"{what} not found{not_found}") from None
    except OSError as exc:
        raise InputError(path, f"cannot read the {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(path, f"the {what} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
