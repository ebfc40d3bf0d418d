"""What the benchmarks need beyond reconciler itself, installed on first use.

Python packages are the ``bench`` extra (``pip install -e '.[bench]'``); when one is missing the
runner installs it into the running interpreter, so that ``python -m bench`` works on a fresh clone
either way. nginx comes from Debian (``apt-get install nginx-light``, as root), with services kept
from starting: the benchmark runs its own nginx on 127.0.0.1 only.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Keep in step with the ``bench`` extra in pyproject.toml.
REQUIREMENTS = {"requests": "requests>=2.32", "py-spy": "py-spy>=0.3.14", "uvloop": "uvloop>=0.19",
                "orjson": "orjson>=3.9"}
_MODULES = {"requests": "requests", "uvloop": "uvloop", "orjson": "orjson"}
_POLICY = Path("/usr/sbin/policy-rc.d")


def ensure_python_packages() -> None:
    """Install the bench requirements that the running interpreter lacks."""
    missing = [spec for name, spec in REQUIREMENTS.items() if not _have(name)]
    if missing:
        print(f"bench: installing {', '.join(missing)}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)


def _have(name: str) -> bool:
    if name in _MODULES:
        return importlib.util.find_spec(_MODULES[name]) is not None
    return py_spy() is not None


def py_spy() -> str | None:
    """The py-spy binary beside the interpreter (a pip install puts it in the venv's bin)."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def ensure_nginx() -> str:
    """The nginx binary, installed from Debian's packages if it is not there yet."""
    found = which_nginx()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError("nginx is needed for the fixed-answer server: install it "
                           "(Debian/Ubuntu: apt-get install nginx-light) and run the benchmarks again")
    print("bench: installing nginx-light with apt-get", flush=True)
    _apt_install("nginx-light")
    found = which_nginx()
    if found is None:
        raise RuntimeError("apt-get installed nginx-light but no nginx binary was found")
    return found


def which_nginx() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def _apt_install(package: str) -> None:
    # policy-rc.d exit 101 keeps the package from starting the system nginx on port 80.
    placed = not _POLICY.exists()
    if placed:
        _POLICY.write_text("#!/bin/sh\nexit 101\n", encoding="ascii")
        _POLICY.chmod(0o755)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True,
                       env=environment)
    finally:
        if placed:
            _POLICY.unlink(missing_ok=True)
