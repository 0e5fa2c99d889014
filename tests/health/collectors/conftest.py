"""A Raspberry Pi's /proc, /sys and root as fake trees (copied per test so a test may alter them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import psutil
import pytest
from health_collector_testing import FIXTURES, tree_paths
from health_reporter.paths import Paths


@pytest.fixture
def pi_tree(tmp_path: Path) -> Path:
    target = tmp_path / "pi"
    shutil.copytree(FIXTURES / "pi", target)
    return target


@pytest.fixture
def pi_paths(pi_tree: Path) -> Paths:
    return tree_paths(pi_tree)


@pytest.fixture(autouse=True)
def _restore_psutil_procfs():
    # Collectors point psutil's module-global PROCFS_PATH at their tree; give later tests the real one.
    yield
    psutil.PROCFS_PATH = "/proc"
