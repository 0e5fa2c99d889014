"""Size, free space and inodes of the host's real mounts (node_exporter's excludes), statvfs under the
host root, plus which mount is the data partition."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import CollectorError
from ..models import Sample
from ..paths import Paths
from .common import BaseCollector, OptionError, flag, gauge, info, read_file

# node_exporter's defaults (collector/filesystem_linux.go): pseudo and read-only image filesystems.
EXCLUDED_FSTYPES = frozenset(
    """autofs binfmt_misc bpf cgroup cgroup2 configfs debugfs devpts devtmpfs fusectl hugetlbfs iso9660 mqueue
    nsfs overlay proc procfs pstore rpc_pipefs securityfs selinuxfs squashfs erofs sysfs tracefs""".split()  # noqa: SIM905
)
EXCLUDED_MOUNTPOINTS = re.compile(
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
DEFAULT_DATA_MOUNTS = ("/data", "/mnt/data", "/")

HELP = {
    "size_bytes": "Filesystem size in bytes.",
    "free_bytes": "Filesystem free space in bytes (including root-reserved blocks).",
    "avail_bytes": "Filesystem space available to non-root users in bytes.",
    "files": "Filesystem total file nodes.",
    "files_free": "Filesystem free file nodes.",
    "readonly": "1 when the filesystem is mounted read-only.",
    "device_error": "1 when statvfs on the mount failed or did not return in time.",
}
NETWORK_FSTYPES = frozenset(
    ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "davfs", "afs")
)
DATA_HELP = "The mount that holds the device's data partition."


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str
    options: tuple[str, ...]


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in mount fields as octal escapes (\040).
    if "\\" not in field:
        return field
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def parse_mounts(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        device, mountpoint, fstype, options = (_unescape(f) for f in fields[:4])
        mounts.append(Mount(device, mountpoint, fstype, tuple(options.split(","))))
    return mounts


def real_mounts(mounts: list[Mount]) -> list[Mount]:
    """Drop pseudo filesystems and excluded mount points; keep the last mount of each mount point
    (a later mount hides an earlier one at the same place)."""
    kept: dict[str, Mount] = {}
    for mount in mounts:
        if mount.fstype in EXCLUDED_FSTYPES or EXCLUDED_MOUNTPOINTS.match(mount.mountpoint):
            continue
        kept.pop(mount.mountpoint, None)
        kept[mount.mountpoint] = mount
    return list(kept.values())


def data_mount(mounts: list[Mount], candidates: tuple[str, ...]) -> Mount | None:
    by_point = {mount.mountpoint: mount for mount in mounts}
    return next((by_point[point] for point in candidates if point in by_point), None)


@dataclass(frozen=True)
class FilesystemOptions:
    data_mounts: tuple[str, ...] = DEFAULT_DATA_MOUNTS

    def __post_init__(self) -> None:
        mounts = self.data_mounts
        if isinstance(mounts, str) or not isinstance(mounts, list | tuple):
            raise OptionError("data_mounts", f"must be a list of mount points, got {mounts!r}")
        if not all(isinstance(point, str) and point.startswith("/") for point in mounts):
            raise OptionError("data_mounts", f"must be a list of absolute mount points, got {mounts!r}")
        object.__setattr__(self, "data_mounts", tuple(self.data_mounts))


class FilesystemCollector(BaseCollector):
    name = "filesystem"
    Options = FilesystemOptions

    def __init__(self, paths: Paths, options: FilesystemOptions | None = None) -> None:
        super().__init__(paths, options)
        self._guarded_stat = GuardedStat()
        # The mount table rarely changes: parse it (and PID 1's mountinfo) again only when its text did.
        self._parsed: tuple[str, list[Mount], dict[str, int] | None] | None = None

    def collect(self) -> list[Sample]:
        text = self._mounts_text()
        if self._parsed is None or self._parsed[0] != text:
            self._parsed = (text, real_mounts(parse_mounts(text)), self._host_devices())
        _, mounts, devices = self._parsed
        samples = []
        for mount in mounts:
            samples += self._stat(mount, devices)
        data = data_mount(mounts, self.options.data_mounts)
        if data is not None:
            samples.append(
                info("device_data_filesystem_info", DATA_HELP, device=data.device, mountpoint=data.mountpoint)
            )
        return samples

    def _mounts_text(self) -> str:
        # PID 1's view is the host's when the container shares the host PID namespace; without
        # pid: host (or under hidepid) fall back to our own mount namespace.
        for path in (self.paths.in_proc("1", "mounts"), self.paths.in_proc("self", "mounts")):
            try:
                return read_file(path)
            except OSError as err:
                last_error = err
        raise CollectorError(f"cannot read mounts under {self.paths.proc}: {last_error}")

    def _stat(self, mount: Mount, devices: dict[str, int] | None) -> list[Sample]:
        labels = {"device": mount.device, "mountpoint": mount.mountpoint, "fstype": mount.fstype}
        path = str(self.paths.on_host(mount.mountpoint))
        if not is_network_fs(mount.fstype) and not self._reachable(path, mount.mountpoint, devices):
            return []  # not bind-mounted into our root: the normal case inside a container
        try:
            stat = self._guarded_stat(path) if is_network_fs(mount.fstype) else os.statvfs(path)
        except FileNotFoundError:
            return []  # not bind-mounted into our root: the normal case inside a container
        except OSError:
            stat = None
        if stat is None:  # failed or stuck: node_exporter's device_error
            return [gauge("node_filesystem_device_error", 1, HELP["device_error"], **labels)]
        values = {
            "size_bytes": stat.f_blocks * stat.f_frsize,
            "free_bytes": stat.f_bfree * stat.f_frsize,
            "avail_bytes": stat.f_bavail * stat.f_frsize,
            "files": stat.f_files,
            "files_free": stat.f_ffree,
            "readonly": flag("ro" in mount.options or bool(stat.f_flag & os.ST_RDONLY)),
            "device_error": 0,
        }
        return [gauge(f"node_filesystem_{key}", value, HELP[key], **labels) for key, value in values.items()]

    def _reachable(self, path: str, mountpoint: str, devices: dict[str, int] | None) -> bool:
        """Under a HOST_ROOT only what is mounted there is the host's: with just the data partition bound
        at <root>/mnt/data, <root> itself is a directory of the container's image, and statvfs on it
        would report the image's filesystem as the host's "/". So the path must be on the device PID 1's
        mountinfo gives for that mount point (no mountinfo, as in a copied tree: no check)."""
        if devices is None or mountpoint not in devices:
            return True
        try:
            return os.stat(path).st_dev == devices[mountpoint]
        except OSError:
            return False

    def _host_devices(self) -> dict[str, int] | None:
        """{mount point: st_dev} from <proc>/1/mountinfo; None (no check) when we share PID 1's mount
        namespace, where every mount point is the host's own."""
        if self.paths.root == Paths().root and self._same_mount_namespace():
            return None
        try:
            text = self.paths.in_proc("1", "mountinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        devices = {}
        for line in text.splitlines():
            fields = line.split()
            if len(fields) > 4 and fields[2].count(":") == 1:
                major, minor = fields[2].split(":")
                devices[_unescape(fields[4])] = os.makedev(int(major), int(minor))
        return devices

    def _same_mount_namespace(self) -> bool:
        try:
            return os.readlink(self.paths.in_proc("1", "ns", "mnt")) == os.readlink("/proc/self/ns/mnt")
        except OSError:  # not allowed to look (not root): assume a container, and check
            return False


def is_network_fs(fstype: str) -> bool:
    return fstype in NETWORK_FSTYPES or fstype.startswith("fuse.")


class GuardedStat:
    """statvfs with a deadline for mounts whose server can hang (NFS, CIFS, FUSE), so one dead server
    cannot stall the sampler: the call runs in a daemon thread, and a path whose call has not returned
    is "stuck" (None) without a new call until the old one returns (node_exporter's stuck mounts)."""

    def __init__(self, stat: Callable[[str], os.statvfs_result] = os.statvfs, timeout: float = 5.0) -> None:
        self._stat = stat
        self._timeout = timeout
        self._stuck: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, path: str) -> os.statvfs_result | None:
        with self._lock:
            if path in self._stuck:
                return None
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["stat"] = self._stat(path)
            except OSError as err:
                outcome["error"] = err
            finally:
                with self._lock:
                    done.set()
                    self._stuck.discard(path)

        threading.Thread(target=run, name=f"statvfs {path}", daemon=True).start()
        done.wait(self._timeout)
        with self._lock:  # decided under the lock so a call finishing right now is not marked stuck
            if not done.is_set():
                self._stuck.add(path)
                return None
        if "error" in outcome:
            raise outcome["error"]
        return outcome["stat"]
