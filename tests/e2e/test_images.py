"""One slim image per service: each installs only its own locked dependencies, the versions the tests
ran with, and its wheel-building step works (here for amd64; for 32-bit ARM it compiles exactly what PyPI
lacks).

There is no container engine here: the lock files and the images' build step are checked with pip itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.e2e.test_bundle import ROOT, dockerfile_instructions

SERVICES = ("wifi-connect", "log-agent", "health")
REQUIREMENTS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9_.-]+==[^\s;\\]+(?: ;[^\\]+)?)", re.MULTILINE)
ARM_PLATFORMS = (
    "linux_armv7l",
    "manylinux2014_armv7l",
    "manylinux_2_17_armv7l",
    "manylinux_2_28_armv7l",
    "manylinux_2_31_armv7l",
)


def pins(path: Path) -> dict[str, str]:
    """name -> locked version, for this interpreter (a universal lock may hold one version per Python)."""
    locked = {}
    for line in PIN.findall(path.read_text()):
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            locked[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return locked


def extra_closure(extra: str) -> set[str]:
    """Installed distributions that `edge-sidecars[extra]` pulls in (markers for this machine)."""
    wanted: list[Requirement] = []
    for text in metadata.requires("edge-sidecars") or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or ("extra" in str(marker) and marker.evaluate({"extra": extra})):
            wanted.append(requirement)
    seen: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or name == "edge-sidecars":
            if name == "edge-sidecars":  # self-referencing extras (all = the three services)
                for extra_name in requirement.extras:
                    seen |= extra_closure(extra_name)
            continue
        seen.add(name)
        for text in metadata.requires(requirement.name) or []:
            child = Requirement(text)
            if child.marker is None or child.marker.evaluate({"extra": ""}):
                wanted.append(child)
    return seen


def test_the_venv_runs_exactly_the_locked_versions() -> None:
    for name, version in pins(REQUIREMENTS / "dev.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement whose marker excludes this machine
        assert installed == version, f"{name}: venv has {installed}, requirements/dev.txt locks {version}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_lock_holds_its_extra_at_the_tested_versions(service: str) -> None:
    locked = pins(REQUIREMENTS / f"{service}.txt")
    dev = pins(REQUIREMENTS / "dev.txt")
    for name, version in locked.items():
        assert dev.get(name) == version, f"{service}: {name}=={version}, but the tests ran {dev.get(name)}"
    missing = extra_closure(service) - set(locked)
    assert not missing, f"{service}: the lock misses {missing}"
    # only this service's dependencies: nothing of another service's extra that this one does not need
    others = set().union(*(extra_closure(s) for s in SERVICES if s != service)) - extra_closure(service)
    assert not set(locked) & others, f"{service}'s image would install {set(locked) & others}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_dockerfile_installs_only_its_own_lock(service: str) -> None:
    dockerfile = ROOT / "services" / service / "Dockerfile"
    text = " ".join(args for _keyword, args in dockerfile_instructions(dockerfile))
    named = set(re.findall(r"requirements/([\w-]+)\.txt", text))
    assert named == {service}, f"{dockerfile} uses {named}"
    instructions = dockerfile_instructions(dockerfile)
    stages = [i for i, (keyword, _args) in enumerate(instructions) if keyword == "FROM"]
    assert len(stages) >= 2, "a wheels stage, then the image"
    assert all(" AS " in instructions[i][1].upper() for i in stages[:-1]), "named build stages"
    final = " ".join(args for _keyword, args in instructions[stages[-1] :])
    leaked = re.search(r"\b(gcc|g\+\+|make|build-essential)\b", final)
    assert not leaked, "compilers leak into the final image"


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
def test_wheel_building_step_runs_here(service: str, tmp_path: Path) -> None:
    """The images' build step, on this machine (amd64): one hash-checked wheel per locked requirement."""
    env_bin = Path(sys.executable).parent
    result = subprocess.run(
        ["sh", str(ROOT / "scripts/build-wheels.sh"), str(REQUIREMENTS / f"{service}.txt"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": f"{env_bin}:/usr/bin:/bin", "HOME": "/root"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    built = {canonicalize_name(wheel.name.split("-")[0]) for wheel in tmp_path.glob("*.whl")}
    locked = set(pins(REQUIREMENTS / f"{service}.txt"))
    assert built == locked, built ^ locked


def documented_arm_compiles() -> dict[str, set[str]]:
    text = (REQUIREMENTS / "README.md").read_text().split("armv7-compiled", 1)[1]
    table: dict[str, set[str]] = {}
    for service, names in re.findall(r"^\| ([\w-]+) \| ([\w, -]+) \|$", text, re.MULTILINE):
        if service in SERVICES:
            table[service] = {canonicalize_name(n.strip()) for n in names.split(",") if n.strip()}
    return table


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
def test_arm_build_stage_compiles_exactly_what_pypi_lacks(service: str, tmp_path: Path) -> None:
    lacking = set()
    for name, version in sorted(pins(REQUIREMENTS / f"{service}.txt").items()):
        platforms = [arg for platform in ARM_PLATFORMS for arg in ("--platform", platform)]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                *platforms,
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                "--abi",
                "cp311",
                "--abi",
                "abi3",
                "--abi",
                "none",
                "--dest",
                str(tmp_path),
                f"{name}=={version}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            assert "No matching distribution" in result.stderr, result.stderr
            lacking.add(name)
    documented = documented_arm_compiles().get(service, set())  # no row's names: nothing to compile
    assert lacking == documented, (
        f"{service}: PyPI lacks 32-bit ARM wheels for {sorted(lacking)}; requirements/README.md says "
        f"{sorted(documented)}"
    )
