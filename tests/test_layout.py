"""The house: the data's path reads from the folder names, and imports only go downwards."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"
# Lower ranks are imported by higher ones, never the other way; rooms of one rank do not import each other.
RANKS = {
    "foundation": 0,  # errors, config, lookup: the vocabulary every room shares
    "input": 1, "journal": 1, "reporting": 1, "client": 1, "simulator": 1,
    "stages": 2, "output": 2,
    "wiring": 3,
    "fleet": 4,  # many runs in one process: built on wiring, below the CLI
    "faces": 5,  # the package itself, the CLI, the notebook face
}
FOUNDATION = {"errors", "config", "lookup"}
MAX_LINES = 400


def room_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "faces"
    if parts[1] in FOUNDATION:
        return "foundation"
    if (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return "faces"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Every reconciler module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from reconciler.simulator import answers`` names a submodule, not the package's face
            submodules = {f"{node.module}.{alias.name}" for alias in node.names if _is_module(node.module, alias.name)}
            found |= submodules if len(submodules) == len(node.names) else {node.module, *submodules}
    return {name for name in found if name == "reconciler" or name.startswith("reconciler.")}


def _is_module(package: str, name: str) -> bool:
    return (PACKAGE.parent / package.replace(".", "/") / f"{name}.py").exists()


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {module_name(path): imported_modules(path) for path in SOURCES}


@pytest.mark.parametrize("module", sorted(GRAPH), ids=str)
def test_imports_go_only_downwards(module: str) -> None:
    room = room_of(module)
    upward = sorted(target for target in GRAPH[module]
                    if room_of(target) != room and RANKS[room_of(target)] >= RANKS[room])
    assert not upward, f"{module} ({room}) imports {upward}"


def test_no_module_imports_itself_round_a_circle() -> None:
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError("import circle: " + " -> ".join((*path[path.index(module):], module)))
        if module in done:
            return
        for target in GRAPH.get(module, ()):
            if target != "reconciler":  # the package's face imports everything; everything lives below it
                visit(target, (*path, module))
        done.add(module)

    for module in GRAPH:
        visit(module, ())


def test_every_room_is_a_known_one_and_no_module_is_long() -> None:
    rooms = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert rooms <= RANKS.keys()
    long = {str(path.relative_to(PACKAGE)): n for path in SOURCES
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long


def test_the_package_imports_on_a_platform_without_fcntl(tmp_path: Path) -> None:
    # Windows has no fcntl; the journal's lock must come from a portable file-lock library.
    script = f"""
import sys, pathlib, pkgutil, importlib, warnings
warnings.simplefilter("ignore")  # filelock says that it falls back to a soft lock here
sys.modules["fcntl"] = None
import reconciler
for module in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
from reconciler.journal.store import Journal
from reconciler.journal.lock import JournalBusy
path = pathlib.Path({str(tmp_path / "j")!r})
journal = Journal.open(path, {{"input": "x"}}, fresh=True)
try:
    Journal.open(path, {{"input": "x"}}, fresh=False)
except JournalBusy:
    print("busy")
journal.discard()
print("imported", "fcntl" in sys.modules and sys.modules["fcntl"] is None)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["busy", "imported", "True"]
