"""The optional hook command, run on every state change with WIFI_CONNECT_* variables (never a secret).

Hooks run one at a time, in order, on a worker thread with a timeout, so a slow hook never stalls the
controller and a hung one is killed.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

HOOK_TIMEOUT = 30.0
# Variables the hook (someone else's program) must never inherit.
SECRET_VARIABLES = ("PORTAL_PASSPHRASE",)


def environment_without_secrets(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment minus secrets, for every child process (hooks, gunicorn)."""
    env = {key: value for key, value in os.environ.items() if key not in SECRET_VARIABLES}
    env.update(extra or {})
    return env


class HookRunner:
    """``StateHook`` that runs ``command`` (split like sh, no shell) with the change as variables."""

    def __init__(self, command: str | None, timeout: float = HOOK_TIMEOUT) -> None:
        self.argv = shlex.split(command) if command else []
        self.timeout = timeout
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hook") if self.argv else None

    def state_changed(self, change: dict[str, str]) -> None:
        if self._worker is not None:
            variables = {f"WIFI_CONNECT_{key.upper()}": str(value) for key, value in change.items()}
            self._worker.submit(self._run, variables)

    def _run(self, variables: dict[str, str]) -> None:
        try:
            done = subprocess.run(self.argv, env=environment_without_secrets(variables), timeout=self.timeout,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            log.warning("hook %s failed: %s", self.argv[0], err)
            return
        if done.returncode != 0:
            log.warning("hook %s exited %d: %s", self.argv[0], done.returncode, done.stderr.strip()[-500:])

    def close(self) -> None:
        """Wait for the hooks already queued (the last one is usually 'stopping')."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
