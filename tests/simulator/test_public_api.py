"""The simulator's public face and its README stay in step."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import reconciler.simulator as simulator
from reconciler.simulator.cli import add_arguments

from .support import write_records

README = (Path(simulator.__file__).parent / "README.md").read_text(encoding="utf-8")


def test_every_public_name_exists_is_documented_and_named_in_the_readme() -> None:
    for name in simulator.__all__:
        member = getattr(simulator, name)
        assert member.__doc__, name
        assert f"`{name}`" in README, name


def test_every_flag_is_in_the_readme() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = [flag for action in parser._actions for flag in action.option_strings if flag.startswith("--")]
    missing = [flag for flag in flags if f"`{flag}" not in README and flag != "--help"]
    assert not missing


def test_every_counter_is_in_the_readme() -> None:
    from reconciler.simulator.stats import SimulatorStats

    for field in [*SimulatorStats().snapshot(include_keys=True), "by_endpoint"]:
        assert f"`{field}`" in README, field


def test_the_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    example = README.split("```python\n", 1)[1].split("```", 1)[0]
    write_records(tmp_path / "records.csv")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.splitlines() == ["401 Session is not authenticated", "{'401': 1}"]
