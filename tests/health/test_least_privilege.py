"""Least privilege: with only some host filesystems bound under HOST_ROOT (not the whole /), what is not
bound is not reported, rather than reported with the container's own numbers."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from health_reporter.collectors.filesystem import FilesystemCollector
from health_reporter.paths import Paths

from tests.health.conftest import CONSOLE_SCRIPT
from tests.health.helpers import free_port, http_ok, stop_process, wait_until


def test_only_filesystems_bound_under_the_host_root_are_reported(tmp_path: Path) -> None:
    proc, root = tmp_path / "proc", tmp_path / "host"
    (proc / "1").mkdir(parents=True)
    (root / "mnt" / "data").mkdir(parents=True)  # "bound": on the device mountinfo names for it
    device = os.stat(root / "mnt" / "data").st_dev
    (proc / "1" / "mounts").write_text("/dev/mmcblk0p2 / ext4 ro 0 0\n/dev/mmcblk0p6 /mnt/data ext4 rw 0 0\n")
    (proc / "1" / "mountinfo").write_text(
        "25 1 179:2 / / ro,relatime - ext4 /dev/mmcblk0p2 ro\n"  # the host's /: not bound here
        f"30 25 {os.major(device)}:{os.minor(device)} / /mnt/data rw,relatime - ext4 /dev/mmcblk0p6 rw\n"
    )
    samples = FilesystemCollector(Paths(proc=proc, sys=tmp_path, root=root)).collect()
    reported = {s.label("mountpoint") for s in samples if s.name == "node_filesystem_size_bytes"}
    assert reported == {"/mnt/data"}  # not "/" with the numbers of the filesystem under tmp_path
    data = [s for s in samples if s.name == "device_data_filesystem_info"]
    assert data[0].label("mountpoint") == "/mnt/data"


def test_in_pid_1s_own_mount_namespace_every_mount_is_the_hosts() -> None:
    samples = FilesystemCollector(Paths()).collect()
    reported = {s.label("mountpoint") for s in samples if s.name == "node_filesystem_size_bytes"}
    assert "/" in reported


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop to nobody"
)
def test_every_collector_works_as_an_unprivileged_user(tmp_path: Path) -> None:
    """What the image does (USER 9199): no collector needs root once the engine socket is left out."""
    port = free_port()
    env = {
        **os.environ, "HEALTH_LISTEN": f"127.0.0.1:{port}", "HEALTH_TELEMETRY": "0",
        "HEALTH_FAST_INTERVAL": "1", "HEALTH_SLOW_INTERVAL": "1",
        "HEALTH_WIFI_CONNECT_URL": "off", "HEALTH_LOG_AGENT_URL": "off",
    }  # fmt: skip
    nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", str(CONSOLE_SCRIPT)]
    with (tmp_path / "reporter.log").open("wb") as log:
        process = subprocess.Popen(nobody, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(url + "/readyz") or process.poll() is not None, 30, "reporter as nobody")
        time.sleep(1.5)  # a slow tick too
        uid = next(
            line
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines()
            if line[:4] == "Uid:"
        )
        assert uid.split()[1:] == ["65534"] * 4
        text = requests.get(url + "/metrics", timeout=5).text
        success = [line for line in text.splitlines() if line.startswith("device_collector_success{")]
        assert len(success) > 20 and all(line.endswith(" 1.0") for line in success), success
    finally:
        stop_process(process)
