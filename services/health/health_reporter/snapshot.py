"""One sampling tick's samples, with look-ups by the contract's metric names, and the derived readings
(memory in use, data partition usage, WiFi, sidecars...) shared by checks, /status, telemetry and history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import Sample

MIB = 1024 * 1024


@dataclass(frozen=True)
class FilesystemUsage:
    mountpoint: str
    device: str
    size_bytes: float
    used_bytes: float  # size - free, as df's "Used"
    avail_bytes: float

    @property
    def used_ratio(self) -> float:
        """df's Use%: what is used out of what an unprivileged writer can ever use (root reserve excluded)."""
        usable = self.used_bytes + self.avail_bytes
        return self.used_bytes / usable if usable > 0 else 0.0


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    samples: tuple[Sample, ...]
    _by_name: dict[str, list[Sample]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[Sample]] = {}
        for sample in self.samples:
            found = index.get(sample.name)
            if found is None:
                index[sample.name] = [sample]
            else:
                found.append(sample)
        object.__setattr__(self, "_by_name", index)

    def extended(self, extra: tuple[Sample, ...]) -> Snapshot:
        """This snapshot plus ``extra`` samples, reusing this one's index (built once per tick, not twice)."""
        snap = object.__new__(Snapshot)
        index = dict(self._by_name)
        for sample in extra:
            found = index.get(sample.name)
            index[sample.name] = [sample] if found is None else [*found, sample]
        object.__setattr__(snap, "taken_at", self.taken_at)
        object.__setattr__(snap, "samples", self.samples + extra)
        object.__setattr__(snap, "_by_name", index)
        return snap

    def find(self, name: str, **labels: str) -> list[Sample]:
        """Samples of that name whose labels include every given label."""
        found = self._by_name.get(name, [])
        if labels:
            wanted = labels.items()
            found = [s for s in found if wanted <= dict(s.labels).items()]
        return found

    def value(self, name: str, **labels: str) -> float | None:
        found = self.find(name, **labels)
        return found[0].value if found else None

    def flag(self, name: str, **labels: str) -> bool | None:
        value = self.value(name, **labels)
        return None if value is None else value >= 1


EMPTY = Snapshot(taken_at=0.0, samples=())


def memory_used_bytes(snap: Snapshot) -> tuple[float, float] | None:
    """(in use, total): MemTotal - MemAvailable, the figure psutil recommends for "actual memory usage"."""
    total = snap.value("node_memory_MemTotal_bytes")
    available = snap.value("node_memory_MemAvailable_bytes")
    if total is None or available is None or total <= 0:
        return None
    return total - available, total


def data_filesystem(snap: Snapshot) -> FilesystemUsage | None:
    """The data partition H1 marks with device_data_filesystem_info; None when no such mount was found."""
    info = snap.find("device_data_filesystem_info")
    if not info:
        return None
    mountpoint, device = info[0].label("mountpoint"), info[0].label("device")
    size = snap.value("node_filesystem_size_bytes", mountpoint=mountpoint)
    free = snap.value("node_filesystem_free_bytes", mountpoint=mountpoint)
    avail = snap.value("node_filesystem_avail_bytes", mountpoint=mountpoint)
    if size is None or free is None or avail is None:
        return None
    return FilesystemUsage(mountpoint, device, size, size - free, avail)


def throttling(snap: Snapshot) -> dict[str, dict[str, bool]]:
    """{condition: {"now": bool, "since_boot": bool}} for the conditions the device reports."""
    flags: dict[str, dict[str, bool]] = {}
    for sample in snap.find("device_throttled"):
        condition, period = sample.label("condition"), sample.label("period")
        flags.setdefault(condition, {})[period] = sample.value >= 1
    return flags


def weakest_wifi_signal(snap: Snapshot) -> Sample | None:
    """The interface with the lowest signal: the one the wifi_signal check, the plot and /status show."""
    signals = snap.find("device_wifi_signal_dbm")
    return min(signals, key=lambda sample: sample.value) if signals else None


def wifi(snap: Snapshot) -> dict[str, object] | None:
    weakest = weakest_wifi_signal(snap)
    if weakest is None:
        return None
    interface = weakest.label("interface")
    info = snap.find("device_wifi_info", interface=interface)
    return {
        "interface": interface,
        "ssid": info[0].label("ssid") if info else None,
        "signal_dbm": weakest.value,
        "link_quality": snap.value("device_wifi_link_quality_ratio", interface=interface),
        "bitrate_bits_per_second": snap.value("device_wifi_bitrate_bits_per_second", interface=interface),
    }


def log_backlog(snap: Snapshot) -> tuple[float | None, float | None]:
    """(records, bytes) the log agent has not delivered yet: records when the agent reports them, else
    bytes (agents before log_agent_backlog_records export only those); the other one is None."""
    records = snap.value("device_log_backlog_records")
    if records is not None:
        return records, None
    return None, snap.value("device_log_backlog_bytes")


def sidecars(snap: Snapshot) -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = {}
    for sample in snap.find("device_sidecar_up"):
        name = sample.label("sidecar")
        reasons = snap.find("device_sidecar_error_info", sidecar=name)
        errors = snap.find("device_sidecar_error", sidecar=name)
        result[name] = {
            "up": sample.value >= 1,
            "error": errors[0].label("error") if errors else None,
            "reason": reasons[0].label("reason") if reasons else None,
        }
    if "wifi-connect" in result:
        states = snap.find("device_wifi_connect_state_info")
        result["wifi-connect"]["state"] = states[0].label("state") if states else None
    if "log-agent" in result:
        records, size = log_backlog(snap)
        result["log-agent"].update(
            backlog_records=records,
            backlog_bytes=size,
            dropped_records_total=snap.value("device_log_dropped_records_total"),
            oldest_unsent_age_seconds=snap.value("device_log_oldest_unsent_age_seconds"),
        )
    return result


def containers(snap: Snapshot) -> list[dict[str, object]]:
    healthy = {s.label("name"): s.value >= 1 for s in snap.find("device_container_healthy")}
    return [
        {"name": s.label("name"), "state": s.label("state"), "healthy": healthy.get(s.label("name"))}
        for s in snap.find("device_container_state_info")
    ]


def unhealthy_containers(snap: Snapshot) -> list[str]:
    return sorted(s.label("name") for s in snap.find("device_container_healthy") if s.value < 1)


def summary(snap: Snapshot) -> dict[str, object]:
    """The balena supervisor's device metrics (integer %, MB, degrees C) plus what a sidecar bundle adds."""
    cpu = snap.value("device_cpu_usage_ratio")
    memory = memory_used_bytes(snap)
    storage = data_filesystem(snap)
    temp = snap.value("device_cpu_temperature_celsius")
    boot, now = snap.value("node_boot_time_seconds"), snap.value("node_time_seconds")
    return {
        "cpu_usage": None if cpu is None else round(cpu * 100),
        "memory_usage": None if memory is None else int(memory[0] // MIB),
        "memory_total": None if memory is None else int(memory[1] // MIB),
        "storage_usage": None if storage is None else int(storage.used_bytes // MIB),
        "storage_total": None if storage is None else int(storage.size_bytes // MIB),
        "storage_mountpoint": None if storage is None else storage.mountpoint,
        "cpu_temp": None if temp is None else round(temp),
        "is_undervolted": bool(snap.flag("device_undervolted")),
        "throttling": throttling(snap),
        "clock_synchronized": snap.flag("device_clock_synchronized"),
        "load": [snap.value(f"node_load{n}") for n in (1, 5, 15)],
        "uptime_seconds": None if boot is None or now is None else round(now - boot),
        "wifi": wifi(snap),
        "sidecars": sidecars(snap),
        "containers": containers(snap),
    }
