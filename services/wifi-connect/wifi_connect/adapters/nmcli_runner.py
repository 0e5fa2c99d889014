"""``TimedNmcli``: every nmcli call, the PyPI ``nmcli`` package's included, with a timeout and C.UTF-8
(English messages we can match, SSIDs in UTF-8); any failure is an ``NmcliError`` with nmcli's exit code."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

import nmcli

from ..errors import NmcliError

# nmcli's exit codes that the backend tells apart
EXIT_TIMEOUT = 3
EXIT_NOT_FOUND = 10


class TimedNmcli(nmcli.SystemCommandInterface):
    """Runs nmcli with a timeout and C.UTF-8; any failure is an ``NmcliError`` (exit code kept)."""

    def __init__(
        self, timeout: float = 15.0, env: Mapping[str, str] | None = None, binary: str = "nmcli"
    ) -> None:
        self.timeout = timeout
        self._env = env
        self._binary = binary

    # nmcli.SystemCommandInterface
    def nmcli(self, parameters: str | list[str]) -> str:
        return self.run([parameters] if isinstance(parameters, str) else list(parameters)).stdout

    def disable_use_sudo(self) -> None:  # we never use sudo
        pass

    def set_lang(self, lang: str) -> None:  # the locale is ours to choose, see _environment
        pass

    def run(self, args: Sequence[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        argv = [self._binary, *args]
        limit = self.timeout if timeout is None else timeout
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self._environment(),
                timeout=limit,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise NmcliError(f"nmcli {' '.join(args)} did not finish within {limit:g}s") from err
        except OSError as err:
            raise NmcliError(f"cannot run {self._binary}: {err}") from err
        except UnicodeError as err:  # text that has no UTF-8 form (a lone surrogate) cannot reach argv
            raise NmcliError(f"nmcli {' '.join(args[:2])}: an argument is not valid Unicode text") from err
        if result.returncode != 0:
            message = result.stderr.strip() or result.stdout.strip()
            raise NmcliError(f"nmcli {' '.join(args)}: {message}", result.returncode, result.stderr)
        return result

    def _environment(self) -> dict[str, str]:
        base = dict(os.environ if self._env is None else self._env)
        # English messages (we match them) but UTF-8 output: in the C locale nmcli prints '?' for non-ASCII
        return {**base, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
