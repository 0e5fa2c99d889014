"""One exception hierarchy for the log agent."""

import sidecar_common.errors


class LogAgentError(Exception):
    """Base of every error the agent raises on purpose."""


class ConfigError(sidecar_common.errors.ConfigError, LogAgentError):
    """Invalid configuration; ``key`` names the setting (a YAML path such as ``outputs[1].url`` or an
    environment variable). The sidecars' one ConfigError: ``except`` the base class catches it too."""


class ProtocolError(LogAgentError):
    """A peer sent something the Forward protocol does not allow; that connection is closed."""


class SpoolError(LogAgentError):
    """The spool cannot store or read records (disk full in block mode, I/O error)."""


class OutputError(LogAgentError):
    """An output could not send; ``retryable`` says whether the same batch may succeed later."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class BudgetExceeded(LogAgentError):
    """The agent's one memory budget (budget.py) is in use: the caller waits and tries again, or
    refuses the work with a counted reason. Nothing was stored."""
