"""``NmMonitor``: NetworkManager's own events, from one long-lived child that listens to its D-Bus signals.

Instead of asking NetworkManager every few seconds (``nmcli networking connectivity check`` probed the
internet each time), the daemon listens. Two sources, the same thin adapter (each line becomes an
``NmChange`` for ``on_change``, or nothing; the policy decides what to read or do):

* ``gdbus monitor --system --dest org.freedesktop.NetworkManager`` (Debian ``libglib2.0-bin``): prints
  every signal NM sends, one line each. Kept: the manager's ``PropertiesChanged`` (its ``Connectivity``
  value is NM's verdict) and ``StateChanged``, and each device's ``StateChanged``; access point, settings
  and IP config chatter is dropped here. About 2.7 MiB PSS.
* ``nmcli monitor`` (what the image always has): libnm follows the same signals and prints "wlan0:
  connected", "Connectivity is now 'full'"... in English (LANG=C.UTF-8). About 7.3 MiB PSS: libnm
  keeps a copy of all of NM's objects, which is why gdbus is preferred when it is installed.

If the child exits (NM restarted, nmcli crashed) it is started again after a growing pause (1 s .. 30 s),
and ``on_change`` then hears ``NmChange(resync=True)``: events may have been missed meanwhile.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..children import die_with_parent
from ..ports import Connectivity, NmChange

log = logging.getLogger(__name__)

CONNECTIVITY_LINE = re.compile(r"Connectivity is now '([a-z]+)'")
DEVICE_LINE = re.compile(r"([^\s:]{1,15}): ")
NM_NAME = "org.freedesktop.NetworkManager"
MANAGER_PATH = "/org/freedesktop/NetworkManager: "
GDBUS_CONNECTIVITY = re.compile(r"'Connectivity': <uint32 ([0-9])>")
GDBUS_DEVICE_STATE = re.compile(r"^/org/freedesktop/NetworkManager/Devices/(\w+): "
                                r"org\.freedesktop\.NetworkManager\.Device\.StateChanged ")
NM_CONNECTIVITY = {0: Connectivity.UNKNOWN, 1: Connectivity.NONE, 2: Connectivity.PORTAL,
                   3: Connectivity.LIMITED, 4: Connectivity.FULL}  # NMConnectivityState
MAX_LINE = 16384  # longer lines (a huge property array) are cut: the rest is read as a line of its own
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


def parse_monitor_line(line: str) -> NmChange:
    """``nmcli monitor`` output line -> NmChange (unknown words: a change with nothing parsed)."""
    text = line.strip()
    match = CONNECTIVITY_LINE.search(text)
    if match:
        try:
            return NmChange(text, connectivity=Connectivity(match.group(1)))
        except ValueError:
            return NmChange(text)
    device = DEVICE_LINE.match(text)
    return NmChange(text, device=device.group(1) if device else None)


def parse_gdbus_line(line: str) -> NmChange | None:
    """``gdbus monitor`` output line -> NmChange, or None for signals the policy does not care about."""
    text = line.strip()
    if text.startswith(f"The name {NM_NAME} "):  # NM appeared on the bus (or left it): look afresh
        return NmChange(text, resync=True)
    if text.startswith(MANAGER_PATH):
        value = GDBUS_CONNECTIVITY.search(text)
        if value:
            return NmChange(text, connectivity=NM_CONNECTIVITY.get(int(value.group(1)), Connectivity.UNKNOWN))
        if "NetworkManager.StateChanged " in text or "'State': <uint32" in text:
            return NmChange(text)
        return None
    device = GDBUS_DEVICE_STATE.match(text)
    return NmChange(text, device=device.group(1)) if device else None


@dataclass(frozen=True, slots=True)
class EventSource:
    """The child to run and how to read its lines."""

    name: str
    argv: Sequence[str]
    parse: Callable[[str], NmChange | None]


NMCLI_MONITOR = EventSource("nmcli monitor", ("nmcli", "monitor"), parse_monitor_line)
GDBUS_MONITOR = EventSource("gdbus monitor", ("gdbus", "monitor", "--system", "--dest", NM_NAME),
                            parse_gdbus_line)


def default_source() -> EventSource:
    """gdbus when installed (a third of nmcli's memory), else nmcli."""
    return GDBUS_MONITOR if shutil.which("gdbus") else NMCLI_MONITOR


class NmMonitor:
    """One monitor child (``source``) and the thread reading it; ``stop()`` ends both."""

    def __init__(
        self,
        on_change: Callable[[NmChange], None],
        source: EventSource | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.on_change = on_change
        self.source = source or default_source()
        self._argv = list(self.source.argv)
        base = dict(os.environ if env is None else env)
        self._env = {**base, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        self._stopping = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self.starts = 0  # how many times the child was started (tests and the log)

    def start(self) -> None:
        """Start the reader thread (it forks the child, so the child dies with that thread's process)."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="nm-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
        if self._thread is not None:
            self._thread.join(timeout)
        if process is not None and process.poll() is None:
            process.kill()

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                self._process = subprocess.Popen(
                    self._argv, env=self._env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace",
                    preexec_fn=die_with_parent(),
                )
            except OSError as err:
                log.error("cannot run %s: %s", self._argv[0], err)
            else:
                self.starts += 1
                if self.starts > 1:
                    self._deliver(NmChange("monitor restarted", resync=True))
                lines = self._read(self._process)
                failures = 0 if lines else failures + 1
                self._process.wait()
            if self._stopping.is_set():
                return
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            log.warning("%s exited; starting it again in %gs", self.source.name, delay)
            self._stopping.wait(delay)

    def _read(self, process: subprocess.Popen[str]) -> int:
        count = 0
        assert process.stdout is not None
        while line := process.stdout.readline(MAX_LINE):
            count += 1
            change = self.source.parse(line)
            if change is not None:
                self._deliver(change)
        return count

    def _deliver(self, change: NmChange) -> None:
        try:
            self.on_change(change)
        except Exception:  # a bug in the listener must not stop us listening
            log.exception("handling %r failed", change.text)
