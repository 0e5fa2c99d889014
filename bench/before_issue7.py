"""wifi-connect as it was before issue 7 (commit ``5a72214``), checked out beside today's code so that a
benchmark measures both in the same run. That version's apps are Flask apps, which the venv no longer
has: Flask is installed into the benchmark's work directory for it (``pip --target``), never into the venv.
"""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BEFORE_COMMIT = "5a72214"  # the branch point of issue 7: Flask, two exec'd gunicorn gthread servers, polling
BEFORE_FLASK = "flask==3.1.3"  # what that commit's apps import (its extra said flask>=3.0)


@contextlib.contextmanager
def checkout(commit: str = BEFORE_COMMIT) -> Iterator[Path]:
    """``commit`` in a temporary git worktree, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="wifi-before-issue7-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(directory), commit], cwd=REPO_ROOT,
                   check=True, capture_output=True)
    try:
        yield directory
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(directory)], cwd=REPO_ROOT,
                       check=False, capture_output=True)


def pythonpath(source: Path, work: Path) -> str:
    """``PYTHONPATH`` that runs the wifi-connect of ``source`` (a checkout) from ``work``."""
    path = [str(source / "services" / "wifi-connect"), str(source / "services" / "common")]
    if source != REPO_ROOT and importlib.util.find_spec("flask") is None:
        target = work / "before-deps"
        if not target.exists():
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "--target", str(target), BEFORE_FLASK], check=True)
        path.append(str(target))
    return ":".join(path)
