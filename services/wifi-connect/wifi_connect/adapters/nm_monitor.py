"""``NmMonitor``: NetworkManager's own events, from one long-lived ``nmcli monitor`` child.

Instead of asking NetworkManager every few seconds (``nmcli networking connectivity check`` probed the
internet each time), the daemon listens: ``nmcli monitor`` prints a line whenever NM's state, a device's
state or NM's own connectivity verdict changes (libnm follows NM's PropertiesChanged/StateChanged D-Bus
signals for it). This adapter is deliberately thin: it turns each line into an ``NmChange`` and hands it
to ``on_change``; the policy decides what to read or do. Lines are English (LANG=C.UTF-8, as for every
nmcli call here); only "Connectivity is now '<value>'" is parsed for its value, every other line is just
"something changed" (device named when the line starts with ``<device>: ``).

If the child exits (NM restarted, nmcli crashed) it is started again after a growing pause (1 s .. 30 s),
and ``on_change`` then hears ``NmChange(resync=True)``: events may have been missed meanwhile.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from collections.abc import Callable, Mapping

from ..children import die_with_parent
from ..ports import Connectivity, NmChange

log = logging.getLogger(__name__)

CONNECTIVITY_LINE = re.compile(r"Connectivity is now '([a-z]+)'")
DEVICE_LINE = re.compile(r"([^\s:]{1,15}): ")
MAX_LINE = 4096  # a line longer than this is cut (nmcli never prints one; a bounded read all the same)
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


class NmMonitor:
    """One ``nmcli monitor`` child and the thread reading it; ``stop()`` ends both."""

    def __init__(
        self,
        on_change: Callable[[NmChange], None],
        binary: str = "nmcli",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.on_change = on_change
        self._argv = [binary, "monitor"]
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
            log.warning("nmcli monitor exited; starting it again in %gs", delay)
            self._stopping.wait(delay)

    def _read(self, process: subprocess.Popen[str]) -> int:
        count = 0
        assert process.stdout is not None
        while line := process.stdout.readline(MAX_LINE):
            count += 1
            self._deliver(parse_monitor_line(line))
        return count

    def _deliver(self, change: NmChange) -> None:
        try:
            self.on_change(change)
        except Exception:  # a bug in the listener must not stop us listening
            log.exception("handling %r failed", change.text)
