"""Installed size of each sidecar image above the Python base: site-packages + Debian packages.

There is no container engine here, so the two parts are measured the way the Dockerfiles build them:
- site-packages: the image's own wheels step (scripts/build-wheels.sh on its lock file, plus the project
  wheel) installed with pip into an empty target directory; bytes on disk (amd64 wheels; 32-bit ARM wheels
  compiled from the same sdists are of the same order).
- Debian packages: the closure of what the Dockerfile's final stage installs (Depends and Pre-Depends, no
  Recommends, as `--no-install-recommends`), minus the closure of what python:3.11-slim-bookworm already
  has (every Priority: required package, apt, and the Python image's own runtime packages), summed by each
  package's Installed-Size from this machine's bookworm package lists, plus binaries copied out of a build
  stage (nmcli).

Targets (issue 11): wifi-connect <= 60 MB, log-agent and health <= 25 MB each.
Run from the repository root: ``.venv/bin/python bench/image_sizes.py`` (fetches the wheels from PyPI).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "image_sizes.json"
TARGET_MB = {"wifi-connect": 60, "log-agent": 25, "health": 25}
# What the official python:3.11-slim-bookworm image installs on top of debian:bookworm-slim (its Dockerfile).
PYTHON_IMAGE_PACKAGES = [
    "ca-certificates",
    "netbase",
    "tzdata",
    "libsqlite3-0",
    "libssl3",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "zlib1g",
    "libncursesw6",
    "libreadline8",
    "libuuid1",
    "libexpat1",
]


def apt_packages_of(dockerfile: Path) -> list[str]:
    """The packages the final stage's `apt-get install` names."""
    final_stage = dockerfile.read_text().rsplit("\nFROM ", 1)[1]
    found = re.findall(r"apt-get install -y --no-install-recommends ([^\\&\n]+)", final_stage)
    return [name for line in found for name in line.split()]


def copied_binaries_bytes(dockerfile: Path) -> int:
    """Files the final stage copies out of a Debian build stage (nmcli), measured on this bookworm machine."""
    final_stage = dockerfile.read_text().rsplit("\nFROM ", 1)[1]
    sources = re.findall(r"^COPY --from=(?!wheels)\S+ (\S+) ", final_stage, re.MULTILINE)
    return sum(Path(source).stat().st_size for source in sources)


def closure(packages: list[str]) -> set[str]:
    if not packages:
        return set()
    result = subprocess.run(
        [
            "apt-cache",
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            *packages,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    names = set()
    for line in result.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("<"):
            continue
        name = (
            line.split(":", 1)[1].strip()
            if ":" in line and line.split(":")[0] in {"Depends", "PreDepends", "|Depends", "|PreDepends"}
            else line
        )
        if not name.startswith("<"):
            names.add(name.split(":")[0])
    return names


def required_packages() -> list[str]:
    dump = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True, timeout=120)
    names = []
    for stanza in dump.stdout.split("\n\n"):
        if "\nPriority: required" in stanza:
            names.append(stanza.split("\n", 1)[0].removeprefix("Package: ").strip())
    return names


def installed_kib(package: str) -> int:
    show = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", package],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    match = re.search(r"^Installed-Size: (\d+)", show.stdout, re.MULTILINE)
    return int(match.group(1)) if match else 0


def site_packages_bytes(service: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        wheels, target = Path(tmp) / "wheels", Path(tmp) / "site-packages"
        python = sys.executable
        subprocess.run(
            [
                "sh",
                str(ROOT / "scripts/build-wheels.sh"),
                str(ROOT / f"requirements/{service}.txt"),
                str(wheels),
            ],
            check=True,
            capture_output=True,
            timeout=900,
            env={"PATH": f"{Path(python).parent}:/usr/bin:/bin", "HOME": "/root"},
        )
        subprocess.run(
            [python, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(wheels), str(ROOT)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--no-compile",
                "--target",
                str(target),
                *map(str, wheels.glob("*.whl")),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return sum(f.stat().st_size for f in target.rglob("*") if f.is_file())


def main() -> int:
    base = closure([*required_packages(), "apt", *PYTHON_IMAGE_PACKAGES])
    rows = {}
    for service in TARGET_MB:
        wanted = apt_packages_of(ROOT / "services" / service / "Dockerfile")
        added = sorted(closure(wanted) - base)
        debian_mb = (
            sum(installed_kib(p) for p in added) * 1024
            + copied_binaries_bytes(ROOT / "services" / service / "Dockerfile")
        ) / 1e6
        python_mb = site_packages_bytes(service) / 1e6
        rows[service] = {
            "debian_packages": added,
            "debian_mb": round(debian_mb, 1),
            "site_packages_mb": round(python_mb, 1),
            "total_mb": round(debian_mb + python_mb, 1),
            "target_mb": TARGET_MB[service],
        }
        print(
            f"{service:13} debian {debian_mb:5.1f} MB + site-packages {python_mb:5.1f} MB = "
            f"{debian_mb + python_mb:5.1f} MB (target <= {TARGET_MB[service]} MB; "
            f"{(debian_mb + python_mb) / TARGET_MB[service]:.2f}x of it)  [{' '.join(added)}]"
        )
    RESULTS.write_text(json.dumps({"method": __doc__.split("\n\n")[1], "images": rows}, indent=2) + "\n")
    plot(rows)
    return 0


def plot(rows: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    debian = [rows[n]["debian_mb"] for n in names]
    python = [rows[n]["site_packages_mb"] for n in names]
    ax.bar(names, debian, label="Debian packages")
    ax.bar(names, python, bottom=debian, label="site-packages")
    ax.scatter(names, [rows[n]["target_mb"] for n in names], marker="_", s=900, color="black", label="target")
    ax.set_ylabel("MB above python:3.11-slim")
    ax.set_title("Installed size per sidecar image")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS.with_suffix(".png"), dpi=100)


if __name__ == "__main__":
    sys.exit(main())
