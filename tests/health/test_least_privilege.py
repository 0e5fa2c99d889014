"""Least privilege: with only some host filesystems bound under HOST_ROOT (not the whole /), what is not
bound is not reported, rather than reported with the container's own numbers."""

from __future__ import annotations

import os
from pathlib import Path

from health_reporter.collectors.filesystem import FilesystemCollector
from health_reporter.paths import Paths


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
