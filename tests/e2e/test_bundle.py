"""The compose bundle and the Dockerfiles: schema, lint, and every path and entry point they name exists.

There is no Docker engine on the build machines, so this is how the bundle is checked.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import check_jsonschema
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SIDECARS = {"wifi-connect": "wifi-connect", "log-agent": "log-agent", "health": "health-reporter"}
CONSOLE_SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def compose_schema() -> dict:
    path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())


def build_of(service: str) -> tuple[Path, Path]:
    build = SERVICES[service]["build"]
    context = ROOT / build["context"]
    return context, context / build.get("dockerfile", "Dockerfile")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def test_compose_file_matches_the_compose_spec() -> None:
    jsonschema.validate(COMPOSE, compose_schema())


def test_bundle_has_the_three_sidecars_and_an_example_app() -> None:
    assert set(SIDECARS) | {"app"} <= set(SERVICES)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_build_context_and_dockerfile_exist(service: str) -> None:
    context, dockerfile = build_of(service)
    assert context.is_dir(), context
    assert dockerfile.is_file(), dockerfile


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_passes_hadolint(service: str) -> None:
    _, dockerfile = build_of(service)
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_copied_path_exists_in_the_build_context(service: str) -> None:
    context, dockerfile = build_of(service)
    for keyword, args in dockerfile_instructions(dockerfile):
        if keyword not in {"COPY", "ADD"} or "--from=" in args:
            continue  # COPY --from copies out of another build stage, not out of the context
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        for source in words[:-1]:
            assert list(context.glob(source)), f"{dockerfile.name}: {keyword} {source} not in {context}"


@pytest.mark.parametrize(("service", "script"), sorted(SIDECARS.items()))
def test_sidecar_image_runs_its_console_script(service: str, script: str) -> None:
    _, dockerfile = build_of(service)
    instructions = dockerfile_instructions(dockerfile)
    commands = " ".join(args for keyword, args in instructions if keyword in {"ENTRYPOINT", "CMD"})
    assert script in commands, f"{dockerfile} does not start {script}"
    module, _, function = CONSOLE_SCRIPTS[script].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_sidecar_environment_is_documented_in_each_service_readme() -> None:
    readmes = {
        "wifi-connect": ROOT / "services/wifi-connect/README.md",
        "log-agent": ROOT / "services/log-agent/README.md",
        "health": ROOT / "services/health/README.md",
    }
    for service, readme in readmes.items():
        text = readme.read_text()
        for variable in SERVICES[service].get("environment", {}):
            if variable.startswith(("PORTAL_", "ACTIVITY_", "LOG_AGENT_", "HEALTH_", "HOST_")):
                assert variable in text, f"{variable} of {service} is not documented in {readme}"
