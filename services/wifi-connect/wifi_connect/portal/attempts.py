"""One connection attempt as ``GET /status`` reports it (``last_attempt``), with a sentence per outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..models import FailureReason

MESSAGES = {
    FailureReason.WRONG_PASSWORD: "{ssid} did not accept the password. Check it and try again.",
    FailureReason.NOT_FOUND: "{ssid} could not be found. Is it in range, and is the name right?",
    FailureReason.TIMEOUT: "{ssid} did not answer in time. Try again, closer to the router.",
    FailureReason.NO_IP: "{ssid} accepted the device but gave it no address (DHCP).",
    FailureReason.NO_INTERNET: "The device joined {ssid}, but it has no internet access.",
    FailureReason.FAILED: "Joining {ssid} failed.",
}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


@dataclass
class Attempt:
    """One connection attempt, as ``GET /status`` reports it after the phone rejoins."""

    id: int
    ssid: str
    started_at: float
    result: str = "pending"  # pending | connected | failed
    reason: FailureReason | None = None
    message: str = ""
    finished_at: float | None = None

    def finish(self, at: float, reason: FailureReason | None) -> None:
        self.finished_at = at
        self.result = "connected" if reason is None else "failed"
        self.reason = reason
        template = "Connected to {ssid}." if reason is None else MESSAGES[reason]
        self.message = template.format(ssid=self.ssid)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "ssid": self.ssid,
            "result": self.result,
            "reason": None if self.reason is None else str(self.reason),
            "message": self.message,
            "started_at": _iso(self.started_at),
            "finished_at": None if self.finished_at is None else _iso(self.finished_at),
        }
