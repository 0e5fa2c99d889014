"""A private D-Bus *system* bus: its own dbus-daemon, config file and socket, nothing shared with the host."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from devrig.proc import StartedWith, stop_process

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


class PrivateSystemBus(StartedWith):
    """``with PrivateSystemBus() as bus: env = {"DBUS_SYSTEM_BUS_ADDRESS": bus.address}``."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self._own_dir = run_dir is None
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="devrig-bus-"))
        self.socket = self.run_dir / "system_bus_socket"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"unix:path={self.socket}"

    def env(self) -> dict[str, str]:
        """The environment a client of this bus needs (on top of os.environ)."""
        return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def start(self, timeout: float = 10.0) -> None:
        config = self.run_dir / "bus.conf"
        config.write_text(CONFIG.format(socket=self.socket))
        self._process = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                stderr = self._process.stderr.read().decode() if self._process.stderr else ""
                self.stop()
                raise RuntimeError(f"dbus-daemon did not start: {stderr.strip()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        if self._own_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

