"""docker-compose.yml is the balena file; docker-compose.docker.yml adds, for plain Docker, what balena's
labels mount.

balena's own parser (npm @balena/compose 7.x, installed by scripts/setup.sh) judges the first; the
compose-spec schema judges both and their merge, as `docker compose -f docker-compose.yml -f
docker-compose.docker.yml` sees it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.e2e.test_bundle import ROOT, compose_schema

BALENA_FILE = ROOT / "docker-compose.yml"
DOCKER_FILE = ROOT / "docker-compose.docker.yml"
NODE_MODULES = ROOT / ".venv" / "node" / "node_modules"

# balena-supervisor src/compose/utils.ts (and @balena/compose's bind-mount table): what each label mounts
LABEL_MOUNTS = {
    "io.balena.features.dbus": {"/run/dbus"},
    "io.balena.features.journal-logs": {"/var/log/journal", "/run/log/journal", "/etc/machine-id"},
    "io.balena.features.procfs": {"/proc"},
    "io.balena.features.sysfs": {"/sys"},
    "io.balena.features.balena-socket": {"/var/run/balena-engine.sock", "/var/run/docker.sock"},
}


def balena_normalize(path: Path) -> dict:
    if shutil.which("node") is None or not (NODE_MODULES / "@balena" / "compose").is_dir():
        pytest.fail("balena's compose parser is missing: run bash scripts/setup.sh")
    result = subprocess.run(
        ["node", str(Path(__file__).with_name("balena_parse.js")), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def merge(base: dict, overlay: dict) -> dict:
    """Compose's merge rules for what these files use: mappings merge, volumes append, scalars replace."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + [v for v in value if v not in merged[key]]
        else:
            merged[key] = copy.deepcopy(value)
    return merged


BALENA = yaml.safe_load(BALENA_FILE.read_text())
DOCKER = yaml.safe_load(DOCKER_FILE.read_text())


def test_balena_parser_accepts_the_bundle_unchanged() -> None:
    normalized = balena_normalize(BALENA_FILE)
    assert set(normalized["services"]) == set(BALENA["services"])


def run_balena_parser(document: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(document))
    return subprocess.run(
        [shutil.which("node") or "node", str(Path(__file__).with_name("balena_parse.js")), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
    )


def test_balena_parser_refuses_a_bind_mount(tmp_path: Path) -> None:
    """The parser really judges: the bind mount the old bundle had is refused."""
    result = run_balena_parser(merge(BALENA, {"services": {"health": {"volumes": ["/:/host:ro"]}}}), tmp_path)
    assert result.returncode == 1 and "Bind mounts are not allowed" in result.stdout, result.stdout


@pytest.mark.parametrize(
    "document", [BALENA, DOCKER, merge(BALENA, DOCKER)], ids=["balena", "docker", "merged"]
)
def test_compose_files_match_the_compose_spec(document: dict) -> None:
    jsonschema.validate(document, compose_schema())


def test_balena_file_has_no_bind_mounts_and_no_logging() -> None:
    for name, service in BALENA["services"].items():
        assert "logging" not in service, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            assert not source.startswith("/"), f"{name}: bind mount {volume}"
            assert source in BALENA["volumes"], f"{name}: volume {source} is not a named volume"


# Plain-Docker binds that no label stands for, each said in docker-compose.docker.yml
EXTRA_BINDS = {"health": {"/etc/os-release"}}


def test_docker_file_mounts_only_what_the_service_labels_stand_for() -> None:
    for name, service in DOCKER["services"].items():
        labels = BALENA["services"][name].get("labels", {})
        allowed = set().union(*(LABEL_MOUNTS.get(label, set()) for label in labels))
        allowed |= EXTRA_BINDS.get(name, set())
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("/"):
                assert source in DOCKER["volumes"], f"{name}: volume {source} is not a named volume"
                continue
            assert source in allowed, f"{name}: {source} is not what its labels {sorted(labels)} mount"
        for label in labels:
            if label in LABEL_MOUNTS and label != "io.balena.features.procfs":
                sources = {v.split(":")[0] for v in service.get("volumes", [])}
                assert sources & LABEL_MOUNTS[label] or label == "io.balena.features.sysfs", (name, label)


def test_engine_socket_only_where_a_feature_needs_it() -> None:
    """The engine socket is root on the host: no service asks for it by default."""
    for name, service in BALENA["services"].items():
        assert "io.balena.features.balena-socket" not in service.get("labels", {}), name


def test_every_sidecar_drops_capabilities() -> None:
    for name in ("wifi-connect", "log-agent", "health"):
        assert BALENA["services"][name].get("cap_drop") == ["ALL"], name
        assert not BALENA["services"][name].get("privileged"), name
