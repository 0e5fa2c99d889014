"""When saved networks are owed a retry from the portal, and how long a person's progress defers it."""

from __future__ import annotations

# A person's progress (a choice posted, an attempt submitted) lets the retry of saved networks wait until
# one RETRY_INTERVAL after it, but never longer than this past the moment the retry first fell due, however
# often anyone posts: a stranger on the open AP cannot hold the device offline while its network is there.
PERSON_DEFERRAL_LIMIT = 600.0


class RetrySchedule:
    """Times on the monotonic clock; the controller's thread reads them, RPC threads note progress."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._due_at: float | None = None  # when saved networks are owed a retry (this time offline)
        self._last_progress: float | None = None  # a person's last progress on the portal

    def due_in(self, now: float) -> float:
        """Seconds until the retry is due. Owed since the portal first went up: a failed attempt does not
        start the interval again."""
        if self._due_at is None:
            self._due_at = now + self.interval
        return max(0.0, self._due_at - now)

    def person_progressed(self, now: float) -> None:
        self._last_progress = now

    def paid(self) -> None:
        """The retry ran: the next visit to the portal owes a full interval again."""
        self._due_at = None

    def forget(self) -> None:
        """Online: nothing is owed."""
        self._due_at = self._last_progress = None

    def held_until(self, now: float) -> float | None:
        """Until when a person's recent progress defers the due retry (bounded), or None: retry now."""
        if self._last_progress is None or self._due_at is None:
            return None
        until = min(self._last_progress + self.interval, self._due_at + PERSON_DEFERRAL_LIMIT)
        return until if until > now else None
