"""What a user installs: the distribution's own name, and a container recipe that installs that wheel.

There is no Docker engine where the tests run, so the Dockerfile is checked as text; `.ci/check-wheel`
builds and installs the real wheel.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import reconciler
from reconciler.reporting.run_report import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
WHEEL = DISTRIBUTION.replace("-", "_")  # a wheel's file name spells the distribution with underscores


def _stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[1:]


def _blocks(language: str = "") -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.MULTILINE | re.DOTALL)


def test_the_distribution_has_a_name_of_its_own_and_the_installed_version_is_the_code_s() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION != "reconciler"
    assert project["scripts"] == {"reconciler": "reconciler.cli:main"}
    assert metadata.version(DISTRIBUTION) == reconciler.__version__


def test_every_pip_install_in_the_readme_names_the_distribution() -> None:
    installs = re.findall(r"pip install (\S+)", README)
    assert installs
    # an extra (`[report]`) may follow the name
    assert all(re.sub(r"\[\w+\]$", "", name.strip("`'\"")) == DISTRIBUTION for name in installs), installs


def test_the_dockerfile_builds_the_wheel_and_installs_that_wheel_alone() -> None:
    build, final = _stages()
    assert build.startswith("python:3.11-slim AS build")
    output = re.search(r"python -m build --wheel --outdir (\S+)", build)
    assert output is not None
    assert final.startswith("python:3.11-slim\n")
    assert re.search(rf"COPY --from=build {re.escape(output.group(1))}/? (\S+)", final)
    wheel = re.search(rf"wheel=\$\(ls \S+/{WHEEL}-\*\.whl\)", final)
    assert wheel is not None and 'pip install --no-cache-dir "${wheel}[report]"' in final  # the audit page too
    assert re.search(r"^USER (?!root\b)\w+", final, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["reconciler"\]$', final, re.MULTILINE)


def test_the_docker_context_holds_what_the_build_stage_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    admitted = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {name for line in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.MULTILINE)
              for name in line.split()}
    assert rules[0] == "*"  # everything out, then only what the image is built from
    assert copied and copied <= admitted
    for name in copied:
        assert (ROOT / name).exists(), name


def test_the_readme_runs_the_image_it_builds_through_its_entrypoint() -> None:
    shell = "\n".join(_blocks()).replace("\\\n", " ")
    tag = re.search(r"^docker build -t (\S+) \.$", shell, re.MULTILINE)
    assert tag is not None
    run = re.search(rf"^docker run .*?{re.escape(tag.group(1))}\s+(\w+)", shell, re.MULTILINE)
    assert run is not None
    assert run.group(1) == "run"  # the entrypoint is `reconciler`: the verb comes first, not the command


def test_the_readme_runs_the_image_as_the_owner_of_the_folder_it_mounts() -> None:
    # The image's user (uid 10001) cannot write to a bind mount owned by the host's user.
    shell = "\n".join(_blocks()).replace("\\\n", " ")
    runs = re.findall(r"^docker run .*$", shell, re.MULTILINE)
    assert runs and all('--user "$(id -u):$(id -g)"' in run for run in runs if " -v " in run)
    kubernetes = README.split("Kubernetes Job", 1)[1]
    context = re.search(r"securityContext: \{(.*)\}", kubernetes)
    assert context is not None and {"runAsUser: 10001", "fsGroup: 10001"} <= set(context.group(1).split(", "))
    assert "useradd --create-home --uid 10001 " in DOCKERFILE and "USER reconciler" in DOCKERFILE


def test_the_scheduling_examples_install_what_they_run() -> None:
    section = README.split("## Scheduling it nightly", 1)[1].split("\n## ", 1)[0]
    cron, kubernetes = section.split("Airflow", 1)[0], section.split("Kubernetes Job", 1)[1]
    assert f"pip install {DISTRIBUTION}" in cron
    image = re.search(r"image: (\S+)", kubernetes)
    assert image is not None and DISTRIBUTION in image.group(1)  # the Dockerfile's image, not a bare Python
    assert re.search(r'args: \["run"', kubernetes) and "command:" not in kubernetes
    assert f"pip install {DISTRIBUTION}" in section.split("Airflow", 1)[1].split("Kubernetes Job", 1)[0]
